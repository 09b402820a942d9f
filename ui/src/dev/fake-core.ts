/**
 * An in-memory stand-in for the Rust core, used only by `npm run dev` in a plain browser so
 * the UI can be worked on without the Tauri app. It answers the same commands and emits the
 * same `core-event`s, with a simulated sync; it is never included in a production build.
 *
 * URL parameters: `?signed-in` starts signed in, `heroes=N` seeds N heroes (try 10000),
 * `stories=N` seeds N stories (30 by default), `expired` ends the session a few seconds after
 * start.
 */
import { mockIPC } from '@tauri-apps/api/mocks';
import type { Account } from '$lib/bindings/Account';
import type { ActivityEntry } from '$lib/bindings/ActivityEntry';
import type { Commands } from '$lib/bindings/commands';
import type { HeroView } from '$lib/bindings/HeroView';
import type { RowSync } from '$lib/bindings/RowSync';
import { HERO_TRAITS } from '$lib/bindings/rules';
import type { SyncOverview } from '$lib/bindings/SyncOverview';
import type { SyncReport } from '$lib/bindings/SyncReport';
import { conflictHandlers } from './fake/conflicts';
import { fail, now, pageOf, send, synced, type Handlers } from './fake/context';
import { storyHandlers } from './fake/stories';

const SYNC_DELAY_MS = 1200;
const NAMES = ['Luna', 'Milo', 'Ada', 'Finn', 'Zara', 'Otis', 'Nova', 'Pip', 'Iris', 'Theo', 'Wren', 'Kai'];
const LOOKS = ['Red boots and a yellow cape', 'Curly hair, green raincoat', 'A tiny crown and muddy knees'];
const POWERS = ['Talks to owls', 'Can make flowers bloom', 'Never gets lost'];

function seedHero(i: number, now: string): HeroView {
  const name = NAMES[i % NAMES.length] + (i >= NAMES.length ? ` ${Math.floor(i / NAMES.length) + 1}` : '');
  const traits = HERO_TRAITS.filter((_, t) => (i * 7 + t * 3) % 5 === 0).slice(0, 1 + (i % 5));
  const sync = synced(now);
  if (i % 13 === 3) Object.assign(sync, { status: 'pending_update', op: 'update' });
  if (i % 17 === 5) Object.assign(sync, { status: 'failed', op: 'update', error: 'Server error (503)', attempts: 8, given_up: true });
  if (i % 23 === 7) Object.assign(sync, { status: 'conflict', op: 'update' });
  return {
    id: `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`,
    name,
    age: 3 + (i % 10),
    traits: traits.length ? traits : ['kind'],
    appearance: LOOKS[i % LOOKS.length],
    special_ability: POWERS[i % POWERS.length],
    avatar_url: null,
    created_at: now,
    updated_at: now,
    sync,
  };
}

export function installFakeCore(params: URLSearchParams): void {
  const start = now();
  let account: Account | null = null;
  let heroes: HeroView[] = Array.from({ length: Number(params.get('heroes') ?? 8) }, (_, i) => seedHero(i, start));
  let workOffline = false;
  let syncing = false;
  let lastSyncAt: string | null = start;

  const signIn = (email: string, name: string): Account =>
    (account = { user_id: 'user-1', email, name, server_url: 'http://127.0.0.1:8787' });
  if (params.has('signed-in')) signIn('parent@example.com', 'Sam');

  const overview = (): SyncOverview => ({
    account,
    network: workOffline ? 'offline' : 'online',
    work_offline: workOffline,
    syncing,
    paused_reason: null,
    last_sync_at: lastSyncAt,
    last_error: null,
    pending: heroes.filter((h) => h.sync.status.startsWith('pending')).length,
    failed: heroes.filter((h) => h.sync.status === 'failed').length,
    conflicts: heroes.filter((h) => h.sync.status === 'conflict').length,
  });
  const changed = () => {
    send({ type: 'data_changed', entity: 'hero' });
    send({ type: 'overview', overview: overview() });
  };
  const find = (id: string) => heroes.find((h) => h.id === id) ?? fail('not_found', 'No such hero');
  const pending = (hero: HeroView, status: RowSync['status'], op: RowSync['op']) => {
    hero.sync = { ...hero.sync, status, op, error: null, attempts: 0, given_up: false };
  };

  async function syncNow(): Promise<SyncReport> {
    if (workOffline) fail('offline', 'Working offline');
    const started_at = now();
    syncing = true;
    send({ type: 'overview', overview: overview() });
    await new Promise((resolve) => setTimeout(resolve, SYNC_DELAY_MS));
    const pushed = heroes.filter((h) => h.sync.status.startsWith('pending'));
    heroes = heroes.filter((h) => h.sync.status !== 'pending_delete');
    for (const hero of pushed) hero.sync = synced(now());
    syncing = false;
    lastSyncAt = now();
    changed();
    const applied = pushed.length;
    const report = { pushed: applied, applied, conflicts: 0, rejected: 0, failed: 0, pulled: 0, started_at, finished_at: now() };
    activity = [
      { ...report, id: activity.length + 1, duration_ms: SYNC_DELAY_MS, trigger: 'manual', outcome: 'ok', error_code: null, message: null },
      ...activity,
    ];
    return report;
  }

  /** The fake's activity log: one line per sync, newest first. */
  let activity: ActivityEntry[] = [];

  if (params.has('expired')) setTimeout(() => send({ type: 'session_expired' }), 3000);

  const handlers: Handlers = {
    account_get: () => account,
    sign_in: ({ email, password }) => {
      if (password === 'wrong') fail('unauthorized', 'Invalid email or password');
      return signIn(email, email.split('@')[0]);
    },
    sign_up: ({ email, name }) => signIn(email, name),
    sign_out: ({ discard }) => {
      const unsynced = heroes.filter((h) => h.sync.status !== 'synced').length;
      if (unsynced > 0 && !discard) {
        fail('unsynced_changes', `${unsynced} change${unsynced === 1 ? ' is' : 's are'} not synced yet.`);
      }
      account = null;
      heroes = [];
      return null;
    },
    heroes_page: ({ filter, window }) => {
      const text = filter.text?.toLowerCase();
      const visible = heroes
        .filter((h) => h.sync.status !== 'pending_delete' && (!text || h.name.toLowerCase().includes(text)))
        .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id));
      return pageOf(visible.map((h) => ({ ...h })), window);
    },
    hero_get: ({ id }) => ({ ...find(id) }),
    hero_create: ({ input }) => {
      const hero: HeroView = { ...seedHero(0, now()), ...input, id: crypto.randomUUID() };
      pending(hero, 'pending_create', 'create');
      hero.sync.version = null;
      heroes = [hero, ...heroes];
      changed();
      return hero;
    },
    hero_update: ({ id, input }) => {
      const hero = find(id);
      Object.assign(hero, input, { updated_at: now() });
      if (hero.sync.status === 'synced') pending(hero, 'pending_update', 'update');
      changed();
      return { ...hero };
    },
    hero_delete: ({ id }) => {
      const hero = find(id);
      if (hero.sync.status === 'pending_create') heroes = heroes.filter((h) => h !== hero);
      else pending(hero, 'pending_delete', 'delete');
      changed();
      return null;
    },
    hero_retry: ({ id }) => {
      const hero = find(id);
      pending(hero, `pending_${hero.sync.op ?? 'update'}`, hero.sync.op);
      changed();
      return { ...hero };
    },
    hero_discard: ({ id }) => {
      const hero = find(id);
      if (hero.sync.op === 'create') heroes = heroes.filter((h) => h !== hero);
      else hero.sync = synced(now());
      changed();
      return null;
    },
    sync_now: syncNow,
    sync_overview: overview,
    set_work_offline: ({ enabled }) => {
      workOffline = enabled;
      send({ type: 'overview', overview: overview() });
      return overview();
    },
    sync_cancel: () => null,
    // Activity, notices and the media cache's usage are answered in fake/conflicts.ts.
    sync_report: () => JSON.stringify({ report: 'infinite-stories sync report (fake)', activity }, null, 2),
    hero_generate_avatar: () => fail('offline', 'The fake core cannot draw'),
    // Stories, events, media and story media generation: ./fake/stories.
    ...storyHandlers({ params, heroes: () => heroes, offline: () => workOffline }),
    // Conflicts, notices, activity, the Sync panel, profile, usage and media usage: ./fake/conflicts.
    ...conflictHandlers({ heroes: () => heroes, changed, activity: () => activity, workOffline: () => workOffline }),
  };

  mockIPC(
    (command, payload) => {
      if (!Object.hasOwn(handlers, command)) return fail('internal', `Unknown command ${command}`);
      const handler = handlers[command as keyof Commands] as (args: unknown) => unknown;
      return handler(payload ?? {});
    },
    { shouldMockEvents: true },
  );
}
