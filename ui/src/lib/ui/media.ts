import type { CacheKind } from '$lib/bindings/CacheKind';
import { media } from '$lib/backend';

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

let streamBase: Promise<string | null> | null = null;

/**
 * The address the narration plays from. Linux's web view (WebKitGTK) cannot play audio from
 * a custom scheme, so there the app also serves the cache on a loopback HTTP address with
 * a secret path (`media_stream_base`); elsewhere it is the `media://` address. Asked once.
 */
export async function audioUrl(id: string): Promise<string> {
  streamBase ??= media.streamBase().catch(() => null);
  const base = await streamBase;
  return base ? `${base}/audio/${encodeURIComponent(id)}` : mediaUrl('audio', id);
}
