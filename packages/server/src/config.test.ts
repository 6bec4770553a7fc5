import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("defaults to the embedded database in ./.modbox on 127.0.0.1:8080", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: "127.0.0.1", validateResponses: true, bodyLimitBytes: 65536 });
    expect(config.database.kind).toBe("pglite");
    expect(config.dataDir).toMatch(/\.modbox$/);
  });

  it("uses PostgreSQL when DATABASE_URL is set, and then requires keys", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgres://u@h/db" })).toThrow(/MODBOX_ENCRYPTION_KEYS is required/);
    const config = loadConfig({ DATABASE_URL: "postgres://u@h/db", MODBOX_ENCRYPTION_KEYS: "k1:x" });
    expect(config.database).toMatchObject({ kind: "postgres", url: "postgres://u@h/db", poolSize: 10 });
  });

  it("switches response validation off in production unless asked", () => {
    expect(loadConfig({ NODE_ENV: "production" }).validateResponses).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", MODBOX_VALIDATE_RESPONSES: "true" }).validateResponses).toBe(true);
  });

  it("keeps 64 MiB free under the embedded database by default; 0 turns the guard off", () => {
    expect(loadConfig({}).minFreeDiskBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ MODBOX_MIN_FREE_DISK_MB: "0" }).minFreeDiskBytes).toBe(0);
    expect(loadConfig({ MODBOX_MIN_FREE_DISK_MB: "256" }).minFreeDiskBytes).toBe(256 * 1024 * 1024);
    expect(() => loadConfig({ MODBOX_MIN_FREE_DISK_MB: "-1" })).toThrow(/MODBOX_MIN_FREE_DISK_MB/);
    expect(() => loadConfig({ MODBOX_MIN_FREE_DISK_MB: "lots" })).toThrow(/MODBOX_MIN_FREE_DISK_MB/);
  });

  it("caches tokens 5 s and allows 20 failed authentications per address per minute (then 429 after 1 s) by default", () => {
    expect(loadConfig({})).toMatchObject({
      tokenCacheTtlMs: 5_000,
      authFailureLimit: { perAddress: 20, windowMs: 60_000, delayMs: 1_000 },
      trustProxy: false,
    });
    expect(
      loadConfig({
        MODBOX_TOKEN_CACHE_SECONDS: "0",
        MODBOX_AUTH_FAILURES_PER_ADDRESS: "0",
        MODBOX_AUTH_FAILURE_WINDOW_SECONDS: "300",
        MODBOX_AUTH_FAILURE_DELAY_MS: "0",
      }),
    ).toMatchObject({ tokenCacheTtlMs: 0, authFailureLimit: { perAddress: 0, windowMs: 300_000, delayMs: 0 } });
    expect(() => loadConfig({ MODBOX_TOKEN_CACHE_SECONDS: "-1" })).toThrow(/MODBOX_TOKEN_CACHE_SECONDS/);
    expect(() => loadConfig({ MODBOX_AUTH_FAILURE_WINDOW_SECONDS: "0" })).toThrow(/MODBOX_AUTH_FAILURE_WINDOW_SECONDS/);
  });

  it.each([
    ["false", false],
    ["true", true],
    ["2", 2],
    ["loopback", "loopback"],
    ["10.0.0.0/8, 192.0.2.1,fd00::/8", "10.0.0.0/8, 192.0.2.1,fd00::/8"],
  ])("MODBOX_TRUST_PROXY=%s is Express's trust proxy %s", (value, expected) => {
    expect(loadConfig({ MODBOX_TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each(["yes", "10.0.0.0/33", "proxy.internal", "10.0.0.1/8/8", ""])("refuses MODBOX_TRUST_PROXY=%s", (value) => {
    expect(() => loadConfig({ MODBOX_TRUST_PROXY: value })).toThrow(/MODBOX_TRUST_PROXY/);
  });

  it("names bad variables without echoing their values", () => {
    const secret = "mbx_!!notvalid!!secretvalue";
    let error: unknown;
    try {
      loadConfig({ PORT: "eighty", MODBOX_BOOTSTRAP_TOKEN: secret, DATABASE_URL: "mysql://secretvalue" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain("PORT");
    expect(message).toContain("MODBOX_BOOTSTRAP_TOKEN");
    expect(message).toContain("DATABASE_URL");
    expect(message).not.toContain("secretvalue");
  });

  it("lists no insecure registry by default; MODBOX_INSECURE_REGISTRIES names hosts and CIDR ranges", () => {
    const none = loadConfig({}).outbound.insecureRegistries;
    expect(none.entries).toEqual([]);
    expect(none.allows("registry.lan:5000")).toBe(false);

    const { insecureRegistries } = loadConfig({ MODBOX_INSECURE_REGISTRIES: " Registry.LAN:5000, 10.0.0.0/8 ,fd00::/8," }).outbound;
    expect(insecureRegistries.entries).toEqual(["registry.lan:5000", "10.0.0.0/8", "fd00::/8"]);
    expect(insecureRegistries.allows("registry.lan:5000")).toBe(true);
    expect(insecureRegistries.allows("10.1.2.3:5000")).toBe(true);
    expect(insecureRegistries.allows("registry.lan")).toBe(false);
    // Empty (or only commas): none, as unset.
    expect(loadConfig({ MODBOX_INSECURE_REGISTRIES: " , " }).outbound.insecureRegistries.entries).toEqual([]);
  });

  it("refuses a bad MODBOX_INSECURE_REGISTRIES entry at start, naming the variable, the entry and the rule", () => {
    let error: unknown;
    try {
      loadConfig({ MODBOX_INSECURE_REGISTRIES: "registry.lan:5000, http://other.lan, 10.0.0.0/33" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain("MODBOX_INSECURE_REGISTRIES");
    expect(message).toContain('entry 2 ("http://other.lan"): write host[:port] without a scheme');
    expect(message).toContain('entry 3 ("10.0.0.0/33"): the prefix length must be a number from 0 to 32');
    expect(message).not.toContain("entry 1");
  });

  it("serves no metrics by default; MODBOX_METRICS_PORT turns them on, on 127.0.0.1 unless MODBOX_METRICS_HOST says otherwise", () => {
    expect(loadConfig({}).metrics).toBeNull();
    expect(loadConfig({ MODBOX_METRICS_PORT: "" }).metrics).toBeNull();
    expect(loadConfig({ MODBOX_METRICS_PORT: "9464" }).metrics).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(loadConfig({ MODBOX_METRICS_PORT: " 9464 ", MODBOX_METRICS_HOST: "0.0.0.0" }).metrics).toEqual({ host: "0.0.0.0", port: 9464 });
    expect(loadConfig({ MODBOX_METRICS_PORT: "9464", MODBOX_METRICS_HOST: "::1" }).metrics).toEqual({ host: "::1", port: 9464 });
    // 0: any free port, as PORT=0 (the URL is logged); the API may be on 0 too.
    expect(loadConfig({ PORT: "0", MODBOX_METRICS_PORT: "0" }).metrics).toEqual({ host: "127.0.0.1", port: 0 });
  });

  it.each(["metrics", "-1", "65536", "94.64", "0x10"])("refuses MODBOX_METRICS_PORT=%s", (value) => {
    expect(() => loadConfig({ MODBOX_METRICS_PORT: value })).toThrow(/MODBOX_METRICS_PORT: must be a port number/);
  });

  it("refuses metrics on the API's port, and a metrics host without a metrics port", () => {
    expect(() => loadConfig({ MODBOX_METRICS_PORT: "8080" })).toThrow(/MODBOX_METRICS_PORT: must differ from PORT/);
    expect(() => loadConfig({ PORT: "9000", MODBOX_METRICS_PORT: "9000", MODBOX_METRICS_HOST: "10.0.0.5" })).toThrow(
      /MODBOX_METRICS_PORT: must differ from PORT/,
    );
    expect(loadConfig({ PORT: "9000", MODBOX_METRICS_PORT: "8080" }).metrics).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(() => loadConfig({ MODBOX_METRICS_HOST: "0.0.0.0" })).toThrow(/MODBOX_METRICS_HOST is set but MODBOX_METRICS_PORT is not/);
    expect(() => loadConfig({ MODBOX_METRICS_PORT: "9464", MODBOX_METRICS_HOST: " " })).toThrow(/MODBOX_METRICS_HOST/);
  });
});
