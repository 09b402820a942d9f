import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ListStore } from './list-store.svelte';

type Item = { id: string; name: string };
const item = (id: string, name = id): Item => ({ id, name });
const ids = (store: ListStore<Item>) => store.items.map((i) => i.id);

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const fetch = vi.fn<() => Promise<Item[]>>();
const report = vi.fn();
const store = () => new ListStore<Item>({ fetch, report });

describe('ListStore', () => {
  beforeEach(() => {
    fetch.mockReset();
    report.mockReset();
  });

  it('loads the list, and forgets it on clear', async () => {
    fetch.mockResolvedValue([item('a'), item('b')]);
    const list = store();
    expect(list.loaded).toBe(false);
    await list.refresh();
    expect(list.loaded).toBe(true);
    expect(ids(list)).toEqual(['a', 'b']);
    list.clear();
    expect(list.loaded).toBe(false);
    expect(list.items).toEqual([]);
  });

  it('coalesces refreshes asked for while one runs into one more fetch', async () => {
    const first = deferred<Item[]>();
    fetch.mockReturnValueOnce(first.promise).mockResolvedValue([item('new')]);
    const list = store();
    const calls = [list.refresh(), list.refresh(), list.refresh()];
    first.resolve([item('old')]);
    await Promise.all(calls);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(ids(list)).toEqual(['new']);
  });

  it('reports a failed refresh and keeps what it had', async () => {
    const error = { code: 'internal', message: 'disk full', fields: [] };
    fetch.mockRejectedValue(error);
    const list = store();
    list.items = [item('a')];
    await list.refresh();
    expect(report).toHaveBeenCalledWith(error);
    expect(ids(list)).toEqual(['a']);
    expect(list.loaded).toBe(false);
  });

  it('upserts: replaces in place, or puts a new item first', () => {
    const list = store();
    list.items = [item('a'), item('b')];
    list.upsert(item('b', 'renamed'));
    expect(list.items).toEqual([item('a'), item('b', 'renamed')]);
    list.upsert(item('c'));
    expect(ids(list)).toEqual(['c', 'a', 'b']);
  });

  it('shows a saved item at once, then refetches', async () => {
    fetch.mockReturnValue(new Promise(() => {}));
    const list = store();
    list.items = [item('a')];
    const saved = list.save(Promise.resolve(item('c')));
    await expect(saved).resolves.toEqual(item('c'));
    expect(ids(list)).toEqual(['c', 'a']);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('passes a failed save to the caller and leaves the list alone', async () => {
    const error = { code: 'validation', message: 'bad', fields: [{ field: 'name', message: 'empty' }] };
    const list = store();
    list.items = [item('a')];
    await expect(list.save(Promise.reject(error))).rejects.toEqual(error);
    expect(ids(list)).toEqual(['a']);
    expect(report).not.toHaveBeenCalled();
    expect(fetch).not.toHaveBeenCalled();
  });

  it('removes an item at once and keeps it out of lists fetched meanwhile', async () => {
    const deletion = deferred<null>();
    fetch.mockResolvedValue([item('a'), item('b')]);
    const list = store();
    list.items = [item('a'), item('b')];
    const pending = list.remove('a', () => deletion.promise);
    expect(ids(list)).toEqual(['b']);
    await list.refresh();
    expect(ids(list)).toEqual(['b']);
    fetch.mockResolvedValue([item('b')]);
    deletion.resolve(null);
    await pending;
    await list.refresh();
    expect(ids(list)).toEqual(['b']);
  });

  it('brings an item back and reports why when its removal fails', async () => {
    const error = { code: 'internal', message: 'disk full', fields: [] };
    fetch.mockResolvedValue([item('a')]);
    const list = store();
    list.items = [item('a')];
    await list.remove('a', () => Promise.reject(error));
    await list.refresh();
    expect(ids(list)).toEqual(['a']);
    expect(report).toHaveBeenCalledWith(error);
  });
});
