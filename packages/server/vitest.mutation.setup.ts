import { inject } from "vitest";

// Runs before each test file of the mutation run, after Stryker's own setup file.
//
// Stryker switches a mutant on in a `beforeAll` hook ("runtime" activation), so nothing is active
// while a test file and the modules it imports are being evaluated. In a fresh worker that holds
// by itself; in the worker thread the run keeps for every mutant (vitest.mutation.pool.ts),
// Stryker's global would still name the previous mutant then, and module-level code (a table, a
// prepared value) would be evaluated with it switched on. A "static" mutant is switched on by
// Stryker's setup file itself and is left alone.
const read = inject as (key: string) => unknown;
const namespace = read("globalNamespace");
const state = typeof namespace === "string" ? (globalThis as unknown as Record<string, { activeMutant?: unknown } | undefined>)[namespace] : undefined;
if (state && read("mode") === "mutant" && read("mutantActivation") === "runtime") state.activeMutant = undefined;
