// A small grouped bar chart in inline SVG (no chart library): one group of bars per bucket,
// one bar per visible series, a y axis with round ticks. The SVG is an image with an
// accessible name and a summary; the same numbers are in a table beside it for screen readers
// and for reading exact values. Series can be shown or hidden with toggle buttons.

import { useId, useState } from "preact/hooks";
import { useI18n } from "../context";

export interface Series {
  key: string;
  label: string;
  /** A CSS class giving the bar its colour (`series-1` … `series-8`). */
  tone: string;
}

export interface ChartBucket {
  /** Short label under the bar group (e.g. "14時", "11/22"). */
  label: string;
  /** The bucket's full name for the table (e.g. the start time). */
  name: string;
  values: Record<string, number>;
}

const WIDTH = 880;
const HEIGHT = 240;
const PAD_LEFT = 44;
const PAD_RIGHT = 8;
const PAD_TOP = 16;
const PAD_BOTTOM = 28;

/**
 * The y axis: a round step (1, 2, 5, 10, 20…) giving about five ticks, and the top of the
 * axis (a whole number of steps at or above the largest value).
 */
function axisOf(largest: number): { step: number; top: number } {
  const rough = Math.max(1, largest / 5);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  return { step, top: Math.max(1, Math.ceil(largest / step)) * step };
}

export function BarChart({
  id,
  title,
  series,
  buckets,
  initiallyShown,
  labelEvery = 1,
}: {
  id: string;
  title: string;
  series: Series[];
  buckets: ChartBucket[];
  initiallyShown: string[];
  /** Label every n-th bucket only, so the labels do not collide. */
  labelEvery?: number;
}) {
  const { t, num } = useI18n();
  const [shown, setShown] = useState<Set<string>>(() => new Set(initiallyShown));
  const [tableOpen, setTableOpen] = useState(false);
  const uid = useId();
  const visible = series.filter((s) => shown.has(s.key));

  const { step, top: max } = axisOf(
    Math.max(0, ...buckets.flatMap((b) => visible.map((s) => b.values[s.key] ?? 0))),
  );
  const plotW = WIDTH - PAD_LEFT - PAD_RIGHT;
  const plotH = HEIGHT - PAD_TOP - PAD_BOTTOM;
  const groupW = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1.5, (groupW * 0.8) / Math.max(1, visible.length));
  const y = (value: number) => PAD_TOP + plotH - (value / max) * plotH;
  const ticks = Array.from({ length: Math.round(max / step) + 1 }, (_, i) => i * step);

  const totals = series.map((s) => ({
    series: s,
    total: buckets.reduce((sum, b) => sum + (b.values[s.key] ?? 0), 0),
  }));
  const summary = totals
    .filter(({ series: s }) => shown.has(s.key))
    .map(({ series: s, total }) => `${s.label} ${num(total)}`)
    .join(t("chart.listSeparator"));

  const toggle = (key: string) => {
    setShown((current) => {
      const next = new Set(current);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  };

  return (
    <figure class="chart" id={id} data-testid={id}>
      <figcaption class="chart-title" id={`${uid}-caption`}>
        {title}
      </figcaption>
      <div class="chart-legend" role="group" aria-label={t("chart.seriesShown", { chart: title })}>
        {series.map((s) => (
          <button
            key={s.key}
            type="button"
            class="legend-item"
            aria-pressed={shown.has(s.key)}
            onClick={() => toggle(s.key)}
          >
            <span class={`legend-swatch ${s.tone}`} aria-hidden="true" />
            {s.label}
          </button>
        ))}
      </div>
      <svg
        class="chart-svg"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-labelledby={`${uid}-title ${uid}-desc`}
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={`${uid}-title`}>{title}</title>
        <desc id={`${uid}-desc`}>{t("chart.summary", { totals: summary || t("chart.nothingShown") })}</desc>
        {ticks.map((tick) => (
          <g key={tick} class="chart-tick">
            <line x1={PAD_LEFT} x2={WIDTH - PAD_RIGHT} y1={y(tick)} y2={y(tick)} />
            <text x={PAD_LEFT - 6} y={y(tick) + 4} text-anchor="end">
              {num(tick)}
            </text>
          </g>
        ))}
        {buckets.map((bucket, i) => {
          const x0 = PAD_LEFT + i * groupW + groupW * 0.1;
          return (
            <g key={bucket.name} class="chart-group" data-bucket={i}>
              {visible.map((s, j) => {
                const value = bucket.values[s.key] ?? 0;
                const height = value > 0 ? Math.max(1, (value / max) * plotH) : 0;
                return (
                  <rect
                    key={s.key}
                    class={`chart-bar ${s.tone}`}
                    data-series={s.key}
                    data-value={value}
                    x={x0 + j * barW}
                    y={PAD_TOP + plotH - height}
                    width={Math.max(1, barW - 0.5)}
                    height={height}
                  />
                );
              })}
              {(buckets.length - 1 - i) % labelEvery === 0 && (
                <text
                  class="chart-label"
                  x={PAD_LEFT + i * groupW + groupW / 2}
                  y={HEIGHT - 8}
                  text-anchor="middle"
                >
                  {bucket.label}
                </text>
              )}
            </g>
          );
        })}
        <line
          class="chart-axis"
          x1={PAD_LEFT}
          x2={WIDTH - PAD_RIGHT}
          y1={PAD_TOP + plotH}
          y2={PAD_TOP + plotH}
        />
      </svg>
      <p class="chart-totals">
        {totals.map(({ series: s, total }) => (
          <span key={s.key} class="chart-total" data-series={s.key} data-total={total}>
            <span class={`legend-swatch ${s.tone}`} aria-hidden="true" />
            {s.label}: <strong>{num(total)}</strong>
          </span>
        ))}
      </p>
      <button
        type="button"
        class="secondary small"
        aria-expanded={tableOpen}
        aria-controls={`${uid}-table`}
        onClick={() => setTableOpen(!tableOpen)}
      >
        {tableOpen ? t("chart.hideTable") : t("chart.showTable")}
      </button>
      <div
        id={`${uid}-table`}
        class="table-wrap chart-table"
        hidden={!tableOpen}
        tabIndex={0}
        role="region"
        aria-label={t("chart.tableCaption", { chart: title })}
      >
        <table>
          <caption>{t("chart.tableCaption", { chart: title })}</caption>
          <thead>
            <tr>
              <th scope="col">{t("chart.bucket")}</th>
              {series.map((s) => (
                <th scope="col" key={s.key} class="num">
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {buckets.map((bucket) => (
              <tr key={bucket.name}>
                <th scope="row">{bucket.name}</th>
                {series.map((s) => (
                  <td key={s.key} class="num">
                    {num(bucket.values[s.key] ?? 0)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
