import { Link, Page } from "../components/common";
import { useI18n } from "../context";

/** Any client route the console does not know. */
export function NotFound({ signedIn }: { signedIn: boolean }) {
  const { t } = useI18n();
  return (
    <Page title={t("notFound.title")} wide={false}>
      <div class="card">
        <p>{t("notFound.body")}</p>
        <p>
          <Link to={signedIn ? "/banks" : "/sign-in"}>{signedIn ? t("notFound.home") : t("notFound.back")}</Link>
        </p>
      </div>
    </Page>
  );
}
