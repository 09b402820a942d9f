/**
 * The fake core's conflicts, notices, Sync panel rows, sync settings, profile, usage and media
 * cache: in memory, over the fake hero list (its `conflict` rows get a server version here).
 */
import type { ActivityEntry } from '$lib/bindings/ActivityEntry';
import type { ConflictDetail } from '$lib/bindings/ConflictDetail';
import type { ConflictRecord } from '$lib/bindings/ConflictRecord';
import type { ConflictStrategy } from '$lib/bindings/ConflictStrategy';
import type { EntityKind } from '$lib/bindings/EntityKind';
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { HeroView } from '$lib/bindings/HeroView';
import type { KindUsage } from '$lib/bindings/KindUsage';
import type { Notice } from '$lib/bindings/Notice';
import type { ProfileView } from '$lib/bindings/ProfileView';
import { HERO_TRAITS } from '$lib/bindings/rules';
import type { UsageView } from '$lib/bindings/UsageView';
import { fail, now, send, synced, type Handlers } from './context';

/** What this part reads of the rest of the fake core. */
export type FakeWorld = {
  heroes: () => HeroView[];
  /** Tells the UI the heroes and the overview changed. */
  changed: () => void;
  activity: () => ActivityEntry[];
  workOffline: () => boolean;
};

type Conflict = { server: HeroInput; base: HeroInput; server_deleted: boolean; detected_at: string };

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
const inputOf = (h: HeroInput): HeroInput => ({
  name: h.name,
  age: h.age,
  traits: [...h.traits],
  appearance: h.appearance,
  special_ability: h.special_ability,
});
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const MB = 1024 * 1024;

export function conflictHandlers(world: FakeWorld): Handlers<
  | 'conflicts_list'
  | 'conflict_detail'
  | 'conflict_resolve'
  | 'conflict_history'
  | 'conflict_restore'
  | 'conflict_strategy_get'
  | 'conflict_strategy_set'
  | 'unsynced_rows'
  | 'row_retry'
  | 'row_discard'
  | 'sync_interval_get'
  | 'sync_interval_set'
  | 'desktop_prefs_get'
  | 'desktop_prefs_set'
  | 'notices_list'
  | 'notice_dismiss'
  | 'activity_log'
  | 'profile_get'
  | 'profile_update'
  | 'usage_get'
  | 'media_usage'
  | 'media_clear'
  | 'media_set_cap'
  | 'media_stream_base'
> {
  let prefs = { keep_in_tray: true, notifications: true };
  let interval = 15 * 60;
  const strategies: Partial<Record<EntityKind, ConflictStrategy>> = {
    hero: 'merge',
    story: 'last_write_wins',
    custom_event: 'merge',
    user_profile: 'server_wins',
  };
  const conflicts = new Map<string, Conflict>();
  let history: ConflictRecord[] = [];
  let notices: Notice[] = [];
  let nextHistory = 1;
  let nextNotice = 1;

  const find = (id: string) => world.heroes().find((h) => h.id === id) ?? fail('not_found', 'No such hero');

  /** The server's side of a conflicting hero: an edit of other fields, and one field both changed. */
  function conflictOf(hero: HeroView): Conflict {
    let c = conflicts.get(hero.id);
    if (!c) {
      const local = inputOf(hero);
      const base: HeroInput = { ...local, traits: local.traits.slice(0, 1), special_ability: 'Talks to birds' };
      c = {
        base,
        server: {
          ...base,
          age: local.age + 1,
          traits: [...base.traits, HERO_TRAITS.find((t) => !local.traits.includes(t)) ?? 'kind'],
          special_ability: 'Can talk to owls, foxes and the moon',
        },
        server_deleted: false,
        detected_at: ago(12),
      };
      conflicts.set(hero.id, c);
    }
    return c;
  }

  function detail(hero: HeroView): ConflictDetail {
    const c = conflictOf(hero);
    const local = inputOf(hero) as Record<string, unknown>;
    const server = c.server as unknown as Record<string, unknown>;
    const base = c.base as unknown as Record<string, unknown>;
    const merged: Record<string, unknown> = {};
    const needs: string[] = [];
    for (const f of Object.keys(local)) {
      if (same(local[f], server[f]) || same(server[f], base[f])) merged[f] = local[f];
      else if (same(local[f], base[f])) merged[f] = server[f];
      else if (f === 'traits') merged[f] = [...new Set([...(local[f] as string[]), ...(server[f] as string[])])].slice(0, 5);
      else {
        merged[f] = local[f];
        needs.push(f);
      }
    }
    return {
      entity: 'hero',
      id: hero.id,
      op: hero.sync.op ?? 'update',
      local,
      server,
      base: c.server_deleted ? null : base,
      server_deleted: c.server_deleted,
      differing: Object.keys(local).filter((f) => !same(local[f], server[f])),
      merged,
      needs_choice: c.server_deleted ? [] : needs,
    };
  }

  function record(hero: HeroView, resolution: string, local: HeroInput, server: HeroInput): ConflictRecord {
    const rec: ConflictRecord = {
      id: nextHistory++,
      entity: 'hero',
      entity_id: hero.id,
      detected_at: now(),
      resolution,
      local: { ...hero, ...local },
      server: { ...hero, ...server },
    };
    history = [rec, ...history];
    return rec;
  }

  // A second conflict: a hero edited here and deleted on another device.
  const deleted = world.heroes().find((h, i) => i === 1 && h.sync.status === 'synced');
  if (deleted) {
    deleted.sync = { ...deleted.sync, status: 'conflict', op: 'update' };
    conflicts.set(deleted.id, {
      base: inputOf(deleted),
      server: inputOf(deleted),
      server_deleted: true,
      detected_at: ago(40),
    });
  }
  // A notice for an edit that sync replaced, and one for a hero deleted elsewhere.
  const replaced = world.heroes().find((h) => h.sync.status === 'synced');
  if (replaced) {
    const mine = { ...inputOf(replaced), appearance: 'A purple raincoat with star buttons' };
    const rec = record(replaced, 'server_wins', mine, inputOf(replaced));
    rec.detected_at = ago(25);
    notices.push({
      id: nextNotice++,
      created_at: ago(25),
      entity: 'hero',
      entity_id: replaced.id,
      title: replaced.name,
      reason: 'replaced',
      fields: ['appearance'],
      history_id: rec.id,
    });
  }
  {
    const gone: HeroView = {
      ...(world.heroes()[0] ?? ({} as HeroView)),
      id: '00000000-0000-7000-8000-00000000dead',
      name: 'Captain Ziggy',
      age: 6,
      traits: ['brave', 'funny'],
      appearance: 'A cardboard spaceship helmet',
      special_ability: 'Can fly for a minute at a time',
      sync: synced(ago(90)),
    };
    const rec = record(gone, 'server_deleted', inputOf(gone), inputOf(gone));
    rec.detected_at = ago(90);
    notices.push({
      id: nextNotice++,
      created_at: ago(90),
      entity: 'hero',
      entity_id: gone.id,
      title: gone.name,
      reason: 'deleted_elsewhere',
      fields: [],
      history_id: rec.id,
    });
  }

  const seededActivity: ActivityEntry[] = [
    {
      id: 1000,
      started_at: ago(3),
      duration_ms: 5400,
      trigger: 'periodic',
      pushed: 1,
      applied: 0,
      conflicts: 0,
      rejected: 0,
      failed: 1,
      pulled: 0,
      outcome: 'error',
      error_code: 'server',
      message: 'the server answered 503: upstream unavailable',
    },
    {
      id: 999,
      started_at: ago(18),
      duration_ms: 820,
      trigger: 'focus',
      pushed: 3,
      applied: 3,
      conflicts: 1,
      rejected: 0,
      failed: 0,
      pulled: 12,
      outcome: 'ok',
      error_code: null,
      message: null,
    },
    {
      id: 998,
      started_at: ago(65),
      duration_ms: 10,
      trigger: 'network_restored',
      pushed: 0,
      applied: 0,
      conflicts: 0,
      rejected: 0,
      failed: 0,
      pulled: 0,
      outcome: 'offline',
      error_code: 'offline',
      message: 'the server could not be reached: connection refused',
    },
  ];

  let profile: ProfileView = {
    id: 'user-1',
    email: 'parent@example.com',
    name: 'Sam',
    preferred_language: 'en',
    theme: 'system',
    subscription_tier: 'plus',
    updated_at: ago(600),
    sync: synced(ago(10)),
  };
  const monthStart = new Date();
  monthStart.setUTCDate(1);
  monthStart.setUTCHours(0, 0, 0, 0);
  const nextMonth = new Date(monthStart);
  nextMonth.setUTCMonth(nextMonth.getUTCMonth() + 1);
  const usage = (): UsageView => ({
    fetched_at: ago(world.workOffline() ? 180 : 0),
    stats: {
      period_start: monthStart.toISOString(),
      period_end: nextMonth.toISOString(),
      subscription_tier: profile.subscription_tier,
      stories_this_month: 27,
      audio_minutes_this_month: 41,
      illustrations_this_month: 12,
      limits: { stories_per_month: 30, audio_minutes_per_month: 120, illustrations_per_month: null },
      tiers: [
        { tier: 'free', limits: { stories_per_month: 5, audio_minutes_per_month: 10, illustrations_per_month: 5 } },
        { tier: 'plus', limits: { stories_per_month: 30, audio_minutes_per_month: 120, illustrations_per_month: null } },
        { tier: 'premium', limits: { stories_per_month: null, audio_minutes_per_month: null, illustrations_per_month: null } },
      ],
    },
  });
  const read = <T>(value: T) =>
    world.workOffline()
      ? { value, source: 'cache' as const, saved_copy: 'Working offline', refreshing: false }
      : { value, source: 'network' as const, saved_copy: null, refreshing: false };

  let cap = 1024 * MB;
  let cache: KindUsage[] = [
    { kind: 'avatar', files: 42, bytes: 18 * MB, protected_bytes: 18 * MB },
    { kind: 'audio', files: 17, bytes: 412 * MB, protected_bytes: 96 * MB },
    { kind: 'illustration', files: 230, bytes: 286 * MB, protected_bytes: 0 },
  ];
  const mediaUsage = () => ({
    by_kind: cache.map((k) => ({ ...k })),
    total_bytes: cache.reduce((sum, k) => sum + k.bytes, 0),
    cap_bytes: cap,
  });

  return {
    conflicts_list: () =>
      world
        .heroes()
        .filter((h) => h.sync.status === 'conflict')
        .map((h) => ({ entity: 'hero' as const, id: h.id, title: h.name, fields: detail(h).differing })),
    conflict_detail: ({ entity, id }) => {
      if (entity !== 'hero') fail('not_found', 'No such conflict');
      const hero = find(id);
      if (hero.sync.status !== 'conflict') fail('not_found', 'No such conflict');
      return detail(hero);
    },
    conflict_resolve: ({ entity, id, choice }) => {
      if (entity !== 'hero') fail('not_found', 'No such conflict');
      const hero = find(id);
      if (hero.sync.status !== 'conflict') fail('not_found', 'No such conflict');
      const c = conflictOf(hero);
      const local = inputOf(hero);
      if (choice.choice === 'use_server') {
        record(hero, 'user_chose_server', local, c.server);
        if (c.server_deleted) world.heroes().splice(world.heroes().indexOf(hero), 1);
        else Object.assign(hero, c.server, { sync: synced(now()) });
      } else if (choice.choice === 'keep_mine') {
        record(hero, 'user_chose_local', local, c.server);
        hero.sync = { ...hero.sync, status: c.server_deleted ? 'pending_create' : 'pending_update', op: c.server_deleted ? 'create' : 'update' };
      } else {
        record(hero, 'user_merged', local, c.server);
        Object.assign(hero, choice.fields as HeroInput, { updated_at: now() });
        hero.sync = { ...hero.sync, status: 'pending_update', op: 'update' };
      }
      conflicts.delete(id);
      world.changed();
      return null;
    },
    conflict_history: ({ entity, id }) => history.filter((r) => r.entity === entity && r.entity_id === id),
    conflict_restore: ({ history_id }) => {
      const rec = history.find((r) => r.id === history_id) ?? fail('not_found', 'No such version');
      const lost = (rec.resolution === 'user_chose_local' || rec.resolution === 'local_wins' ? rec.server : rec.local) as HeroView;
      const hero = world.heroes().find((h) => h.id === rec.entity_id);
      if (hero) {
        Object.assign(hero, inputOf(lost), { updated_at: now() });
        hero.sync = { ...hero.sync, status: 'pending_update', op: 'update' };
        world.changed();
        return hero.id;
      }
      const created: HeroView = { ...lost, ...inputOf(lost), id: crypto.randomUUID(), created_at: now(), updated_at: now() };
      created.sync = { ...synced(now()), status: 'pending_create', op: 'create', version: null };
      world.heroes().unshift(created);
      world.changed();
      return created.id;
    },
    conflict_strategy_get: ({ entity }) => strategies[entity] ?? fail('bad_request', 'Illustrations have no strategy'),
    conflict_strategy_set: ({ entity, strategy }) => {
      strategies[entity] = strategy;
      return null;
    },
    unsynced_rows: () =>
      world
        .heroes()
        .filter((h) => h.sync.status !== 'synced')
        .map((h) => ({ entity: 'hero' as const, id: h.id, title: h.name, updated_at: h.updated_at, sync: { ...h.sync } })),
    row_retry: ({ id }) => {
      const hero = find(id);
      hero.sync = { ...hero.sync, status: `pending_${hero.sync.op ?? 'update'}`, error: null, attempts: 0, given_up: false };
      world.changed();
      return null;
    },
    row_discard: ({ id }) => {
      const hero = find(id);
      if (hero.sync.op === 'create') world.heroes().splice(world.heroes().indexOf(hero), 1);
      else hero.sync = synced(now());
      world.changed();
      return null;
    },
    sync_interval_get: () => interval,
    sync_interval_set: ({ seconds }) => (interval = seconds),
    desktop_prefs_get: () => prefs,
    desktop_prefs_set: ({ prefs: next }) => (prefs = next),
    notices_list: () => notices,
    notice_dismiss: ({ id }) => {
      notices = notices.filter((n) => n.id !== id);
      return null;
    },
    activity_log: ({ limit }) => [...world.activity(), ...seededActivity].slice(0, limit),
    profile_get: () => read({ ...profile }),
    profile_update: ({ input }) => {
      if (!input.name.trim()) fail('validation', 'Enter a name of 1 to 100 characters');
      profile = { ...profile, ...input, updated_at: now(), sync: { ...profile.sync, status: 'pending_update', op: 'update' } };
      send({ type: 'data_changed', entity: 'user_profile' });
      return { ...profile };
    },
    usage_get: () => read(usage()),
    media_usage: mediaUsage,
    // No loopback server in the browser preview: narration keeps its media:// address.
    media_stream_base: () => null,
    media_clear: ({ kind }) => {
      let freed = 0;
      cache = cache.map((k) => {
        if (kind !== null && k.kind !== kind) return k;
        freed += k.bytes - k.protected_bytes;
        return { ...k, bytes: k.protected_bytes, files: k.protected_bytes ? Math.ceil(k.files / 4) : 0 };
      });
      return freed;
    },
    media_set_cap: ({ bytes }) => {
      cap = bytes;
      return { released: 0, expired: 0, over_cap: 0, freed_bytes: 0, kept_bytes: mediaUsage().total_bytes, still_over_cap: false };
    },
  };
}
