/**
 * drizzle-kit reads this to generate migrations from `src/db/schema.ts` into `drizzle/`
 * (`pnpm exec drizzle-kit generate --name <change>`, `pnpm exec drizzle-kit check`).
 * It needs no connection: migrations are applied by the server itself (`src/db/migrate.ts`).
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  strict: true,
  verbose: true,
});
