import { describe, expect, it } from "vitest";
import { isAzureTenantId, parseAcrServer } from "./azure-hosts.js";

describe("parseAcrServer", () => {
  it.each([
    ["contoso.azurecr.io", "https://login.microsoftonline.com"],
    ["contoso2024.azurecr.cn", "https://login.chinacloudapi.cn"],
    ["contosogov.azurecr.us", "https://login.microsoftonline.us"],
  ])("%s is an ACR login server of its cloud", (server, authorityHost) => {
    expect(parseAcrServer(server)).toEqual({ host: server, authorityHost });
  });

  it("reads the registry from a server with a repository prefix", () => {
    expect(parseAcrServer("contoso.azurecr.io/team/app")).toEqual({ host: "contoso.azurecr.io", authorityHost: "https://login.microsoftonline.com" });
  });

  it.each([
    "contoso.azurecr.io:8443",
    "http://contoso.azurecr.io",
    "abcd.azurecr.io",
    "a".repeat(51) + ".azurecr.io",
    "con-toso.azurecr.io",
    "contoso.westeurope.data.azurecr.io",
    "contoso.azurecr.io.evil.example",
    "evil.example/contoso.azurecr.io",
    "contoso.azurecr.de",
    "mcr.microsoft.com",
  ])("%s is not", (server) => {
    expect(parseAcrServer(server)).toBeNull();
  });
});

describe("isAzureTenantId", () => {
  it.each(["72f988bf-86f1-41af-91ab-2d7cd011db47", "72F988BF-86F1-41AF-91AB-2D7CD011DB47", "contoso.onmicrosoft.com", "contoso.com"])("%s is a tenant", (tenant) => {
    expect(isAzureTenantId(tenant)).toBe(true);
  });

  it.each(["common", "organizations", "../evil", "contoso.com/x", "contoso.com?x=1", "evil.example#", "a b.com", "", "72f988bf-86f1-41af-91ab-2d7cd011db4"])("%j is not", (tenant) => {
    expect(isAzureTenantId(tenant)).toBe(false);
  });
});
