/**
 * The columns derived from others, computed once when the row is written (and, for rows written
 * before these columns existed or around the app, by `migrateDatabase`'s backfill), so that
 * reads only copy them out. One function per column: writes and the backfill share it, so a
 * stored value is always what this code derives.
 */
import { detectProvider, type ProviderName } from "../registry-protocol/providers.js";
import { parseImageAndTag, pullReference } from "../registry-protocol/reference.js";

/** `registries.provider`: who serves this (normalised) server. */
export function providerOf(server: string): ProviderName {
  return detectProvider(server).provider;
}

/**
 * `sandbox_images.reference`: what a runtime pulls. Every write validated the pair, so it parses;
 * the fallback only keeps a row the grammar has since refused readable as it was stored.
 */
export function referenceOf(image: string, tag: string): string {
  const parsed = parseImageAndTag(image, tag);
  return parsed.ok ? pullReference(parsed.ref) : `${image}:${tag}`;
}
