import type { Translate } from "../i18n";
import { href, navigate } from "../router";

/** Any client route the console does not know. */
export function NotFound({ t }: { t: Translate }) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate("/");
  };
  return (
    <section class="card" aria-labelledby="not-found-title">
      <h2 id="not-found-title" tabIndex={-1}>
        {t("notFound.title")}
      </h2>
      <p>{t("notFound.body")}</p>
      <p>
        <a href={href("/")} onClick={onClick}>
          {t("notFound.back")}
        </a>
      </p>
    </section>
  );
}
