import type { CacheKind } from '$lib/bindings/CacheKind';

/**
 * The address of a cached picture or recording: the core's `media://` scheme serves it
 * from disk (downloading it first on a miss, with `Range` for seeking). The path names the
 * row it belongs to, never a file. Windows' web view reaches custom schemes over
 * `http://<scheme>.localhost`.
 */
export function mediaUrl(kind: CacheKind, id: string, userAgent = navigator.userAgent): string {
  const base = userAgent.includes('Windows') ? 'http://media.localhost' : 'media://localhost';
  return `${base}/${kind}/${encodeURIComponent(id)}`;
}
