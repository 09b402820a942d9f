import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke, isTauri: () => false }));

const { call, heroes, sync } = await import('./backend');

beforeEach(() => {
  invoke.mockReset().mockResolvedValue(null);
});

describe('call', () => {
  it('sends the command with its arguments, or none', async () => {
    await call('hero_get', { id: 'h1' });
    await call('sync_overview');
    expect(invoke.mock.calls).toEqual([
      ['hero_get', { id: 'h1' }],
      ['sync_overview', undefined],
    ]);
  });

  it('rejects with an ErrorPayload whatever the command threw', async () => {
    invoke.mockRejectedValue('Command hero_nope not found');
    await expect(call('sync_now')).rejects.toEqual({
      code: 'internal',
      message: 'Command hero_nope not found',
      fields: [],
    });
  });

  it('is typed by the generated command map', () => {
    // svelte-check fails if one of these stops being a type error.
    // @ts-expect-error: no such command
    void call('hero_nope');
    // @ts-expect-error: hero_get needs its id
    void call('hero_get');
    // @ts-expect-error: the id is a string
    void call('hero_get', { id: 1 });
    // @ts-expect-error: a command without arguments takes none
    void call('sync_overview', {});
  });
});

describe('grouped API', () => {
  it('names the arguments as the commands do', async () => {
    const input = { name: 'Luna', age: 7, traits: ['kind' as const], appearance: '', special_ability: '' };
    await heroes.update('h1', input);
    await sync.setWorkOffline(true);
    expect(invoke.mock.calls).toEqual([
      ['hero_update', { id: 'h1', input }],
      ['set_work_offline', { enabled: true }],
    ]);
  });
});
