import { describe, expect, it } from 'vitest';
import type { SyncOverview } from '$lib/bindings/SyncOverview';
import { generationBlocked, unreachableMessage } from './generation';

const overview = (changes: Partial<SyncOverview> = {}): SyncOverview => ({
  account: null,
  network: 'online',
  work_offline: false,
  syncing: false,
  paused_reason: null,
  last_sync_at: null,
  last_error: null,
  pending: 0,
  failed: 0,
  conflicts: 0,
  ...changes,
});

describe('generationBlocked', () => {
  it('lets an online app generate', () => {
    expect(generationBlocked(overview())).toBeNull();
    expect(generationBlocked(null)).toBeNull();
  });

  it('says why offline', () => {
    expect(generationBlocked(overview({ network: 'offline' }))).toBe(
      "You're offline — generating a story needs the Infinite Stories server. Everything else works offline.",
    );
  });

  it('blocks when the server is unreachable or work offline is on', () => {
    expect(generationBlocked(overview({ network: 'server_unreachable' }))).toMatch(/can't be reached/);
    expect(generationBlocked(overview({ work_offline: true }))).toMatch(/^You're offline — .*Work offline is on/);
  });

  it('names what is being generated', () => {
    expect(generationBlocked(overview({ network: 'offline' }), 'a narration')).toMatch(/generating a narration/);
  });
});

describe('unreachableMessage', () => {
  it('explains offline errors the same way', () => {
    expect(unreachableMessage({ code: 'offline', message: 'x', fields: [] })).toMatch(/^You're offline/);
    expect(unreachableMessage({ code: 'server_unreachable', message: 'x', fields: [] })).toMatch(/^You're offline/);
  });

  it('leaves other errors alone', () => {
    expect(unreachableMessage({ code: 'limit_reached', message: 'x', fields: [] })).toBeNull();
  });
});
