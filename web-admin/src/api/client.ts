// The one HTTP client of the console: openapi-fetch typed by the paths generated from
// openapi/mamori.json (`npm run gen:api`). A change of the API contract that the console
// depends on is a type error in `npm run build`.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export const api = createClient<paths>({ baseUrl: "" });

export type Readiness = components["schemas"]["Readiness"];
export type Problem = components["schemas"]["Problem"];
