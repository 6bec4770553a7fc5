// Runs the compiled app.js (ESM, `import "@modbox/sdk"`): node run-esm.mjs <baseUrl> <token>.
import { exercise } from "./app.js";

const [baseUrl, token] = process.argv.slice(2);
console.log(JSON.stringify(await exercise(baseUrl, token)));
