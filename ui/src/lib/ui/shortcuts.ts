/** App-wide keyboard shortcuts, and the list the help overlay shows. */
export type ShortcutAction =
  | 'sync'
  | 'new'
  | 'search'
  | 'sync-panel'
  | 'help'
  | 'screen-1'
  | 'screen-2'
  | 'screen-3'
  | 'screen-4'
  | 'screen-5';

type KeyInfo = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey'> & { shiftKey?: boolean };

/**
 * Ctrl/Cmd+R or F5 syncs; Ctrl/Cmd+N makes a new item on the screen shown; Ctrl/Cmd+F
 * searches; Ctrl/Cmd+J opens the Sync panel; Ctrl/Cmd+1…5 switch screens; F1 (or
 * Ctrl/Cmd+/) shows the shortcuts.
 */
export function shortcutFor(event: KeyInfo): ShortcutAction | null {
  if (event.altKey) return null;
  if (event.key === 'F5') return 'sync';
  if (event.key === 'F1') return 'help';
  if (!event.ctrlKey && !event.metaKey) return null;
  const key = event.key.toLowerCase();
  if (/^[1-5]$/.test(key)) return `screen-${key}` as ShortcutAction;
  switch (key) {
    case 'r':
      return 'sync';
    case 'n':
      return 'new';
    case 'f':
      return 'search';
    case 'j':
      return 'sync-panel';
    case '/':
      return 'help';
    default:
      return null;
  }
}

const IS_MAC = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.userAgent);

/** How a Ctrl/Cmd shortcut is written on this platform: "⌘R" or "Ctrl+R". */
export function modKey(key: string, mac: boolean = IS_MAC): string {
  return mac ? `⌘${key}` : `Ctrl+${key}`;
}

/** What the help overlay lists, in groups. */
export function shortcutHelp(mac: boolean = IS_MAC): { group: string; keys: string; what: string }[] {
  const m = (k: string) => modKey(k, mac);
  return [
    { group: 'Anywhere', keys: `${m('R')} or F5`, what: 'Sync now' },
    { group: 'Anywhere', keys: m('J'), what: 'Open the Sync panel' },
    { group: 'Anywhere', keys: `${m('1')} … ${m('5')}`, what: 'Heroes, Stories, Events, Profile, Settings' },
    { group: 'Anywhere', keys: m('N'), what: 'New hero, story or event (on its screen)' },
    { group: 'Anywhere', keys: m('F'), what: 'Search the list' },
    { group: 'Anywhere', keys: `F1 or ${m('/')}`, what: 'These shortcuts' },
    { group: 'Anywhere', keys: 'Esc', what: 'Close a dialog or the reader' },
    { group: 'Lists', keys: '↑ ↓ Page Up Page Down Home End', what: 'Move between rows' },
    { group: 'Lists', keys: 'Enter', what: 'Open (a story) or edit (a hero)' },
    { group: 'Lists', keys: 'S', what: "A hero's stories" },
    { group: 'Lists', keys: 'Delete', what: 'Delete, after asking' },
    { group: 'Reader', keys: 'Space', what: 'Play or pause the narration' },
    { group: 'Reader', keys: '← →', what: 'Back or forward 10 seconds' },
  ];
}
