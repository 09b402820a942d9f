/** App-wide keyboard shortcuts. */
export type ShortcutAction = 'sync' | 'new-hero';

type KeyInfo = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey'>;

/** Ctrl/Cmd+R or F5 syncs; Ctrl/Cmd+N makes a new hero. */
export function shortcutFor(event: KeyInfo): ShortcutAction | null {
  if (event.altKey) return null;
  if (event.key === 'F5') return 'sync';
  if (!event.ctrlKey && !event.metaKey) return null;
  switch (event.key.toLowerCase()) {
    case 'r':
      return 'sync';
    case 'n':
      return 'new-hero';
    default:
      return null;
  }
}

const IS_MAC = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.userAgent);

/** How a Ctrl/Cmd shortcut is written on this platform: "⌘R" or "Ctrl+R". */
export function modKey(key: string, mac: boolean = IS_MAC): string {
  return mac ? `⌘${key}` : `Ctrl+${key}`;
}
