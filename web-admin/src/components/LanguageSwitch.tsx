import { LANG_NAMES, LANGS, type Lang, type Translate } from "../i18n";

interface Props {
  lang: Lang;
  onChange: (lang: Lang) => void;
  t: Translate;
}

/** 日本語 / English: two toggle buttons; the pressed one is the current language. */
export function LanguageSwitch({ lang, onChange, t }: Props) {
  return (
    <div class="lang-switch" role="group" aria-label={t("lang.label")}>
      {LANGS.map((option) => (
        <button
          key={option}
          type="button"
          lang={option}
          aria-pressed={option === lang}
          onClick={() => onChange(option)}
        >
          {LANG_NAMES[option]}
        </button>
      ))}
    </div>
  );
}
