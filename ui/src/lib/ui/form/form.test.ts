import { describe, expect, it, vi } from 'vitest';
import { BUSY_AFTER_MS, FormState } from './form.svelte';
import type { Checked } from './rules';

type Draft = { name: string; age: number | null };
type Input = { name: string; age: number };
type Field = keyof Draft;

function validate(draft: Draft): Checked<Input, Field> {
  const errors: Partial<Record<Field, string>> = {};
  if (!draft.name.trim()) errors.name = 'Give a name';
  if (draft.age === null) errors.age = 'Give an age';
  if (Object.keys(errors).length > 0 || draft.age === null) return { ok: false, errors };
  return { ok: true, input: { name: draft.name.trim(), age: draft.age } };
}

const form = (draft: Draft = { name: '', age: null }) =>
  new FormState({ draft, validate, fields: ['name', 'age'] });

const validation = (fields: { field: string; message: string }[]) => ({ code: 'validation', message: 'invalid', fields });

describe('FormState', () => {
  it('edits a copy of the draft and knows when it changed', () => {
    const start = { name: 'Luna', age: 7 };
    const f = form(start);
    expect(f.dirty).toBe(false);
    f.draft.name = 'Milo';
    expect(start.name).toBe('Luna');
    expect(f.dirty).toBe(true);
    f.draft.name = 'Luna';
    expect(f.dirty).toBe(false);
  });

  it('shows the rules\u2019 errors only once submitting was tried, then after every edit', async () => {
    const f = form();
    expect(f.errors).toEqual({});
    const save = vi.fn();
    expect(await f.submit(save)).toBe(false);
    expect(save).not.toHaveBeenCalled();
    expect(f.attempted).toBe(true);
    expect(f.errors).toEqual({ name: 'Give a name', age: 'Give an age' });
    f.draft.name = 'Luna';
    expect(f.errors).toEqual({ age: 'Give an age' });
  });

  it('saves the checked input and says it is submitting meanwhile', async () => {
    const f = form({ name: '  Luna ', age: 7 });
    let during = false;
    const saved = await f.submit(async (input) => {
      during = f.submitting;
      expect(input).toEqual({ name: 'Luna', age: 7 });
    });
    expect(saved).toBe(true);
    expect(during).toBe(true);
    expect(f.submitting).toBe(false);
  });

  it('says it is busy only when a save takes a while, so a quick one does not flicker', async () => {
    vi.useFakeTimers();
    try {
      const quick = form({ name: 'Luna', age: 7 });
      let busyDuring = true;
      await quick.submit(async () => {
        busyDuring = quick.busy;
      });
      expect(busyDuring).toBe(false);

      const slow = form({ name: 'Luna', age: 7 });
      let finish!: () => void;
      const saving = slow.submit(() => new Promise<void>((resolve) => (finish = resolve)));
      vi.advanceTimersByTime(BUSY_AFTER_MS - 1);
      expect(slow.busy).toBe(false);
      vi.advanceTimersByTime(1);
      expect(slow.busy).toBe(true);
      finish();
      expect(await saving).toBe(true);
      expect(slow.busy).toBe(false);
      expect(slow.submitting).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ignores a submit while one runs', async () => {
    const f = form({ name: 'Luna', age: 7 });
    let finish!: () => void;
    const save = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const first = f.submit(save);
    expect(await f.submit(save)).toBe(false);
    finish();
    expect(await first).toBe(true);
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('puts the core\u2019s validation messages under their fields until that field changes', async () => {
    const f = form({ name: 'Luna', age: 7 });
    const saved = await f.submit(() => Promise.reject(validation([{ field: 'name', message: 'Taken' }])));
    expect(saved).toBe(false);
    expect(f.errors).toEqual({ name: 'Taken' });
    expect(f.general).toBe('');
    f.draft.age = 8;
    expect(f.errors).toEqual({});
    f.draft.age = 7;
    expect(f.errors).toEqual({ name: 'Taken' });
  });

  it('says in general what the core said about fields the form doesn\u2019t show', async () => {
    const f = form({ name: 'Luna', age: 7 });
    await f.submit(() =>
      Promise.reject(
        validation([
          { field: 'name', message: 'Taken' },
          { field: 'owner', message: 'Unknown owner.' },
          { field: 'owner', message: 'Really unknown.' },
        ]),
      ),
    );
    expect(f.errors).toEqual({ name: 'Taken' });
    expect(f.general).toBe('Unknown owner. Really unknown.');
  });

  it('words other errors for people', async () => {
    const f = form({ name: 'Luna', age: 7 });
    await f.submit(() => Promise.reject({ code: 'not_found', message: 'gone', fields: [] }));
    expect(f.general).toBe('That item no longer exists. It may have been deleted on another device.');
    await f.submit(() => Promise.reject({ code: 'server', message: 'Server error (500)', fields: [] }));
    expect(f.general).toMatch(/^The server had a problem/);
    expect(f.errors).toEqual({});
  });

  it('clears the last failure when submitting again', async () => {
    const f = form({ name: 'Luna', age: 7 });
    await f.submit(() => Promise.reject(validation([{ field: 'name', message: 'Taken' }])));
    await f.submit(() => Promise.reject({ code: 'server', message: 'Down', fields: [] }));
    expect(f.errors).toEqual({});
    expect(await f.submit(() => Promise.resolve())).toBe(true);
    expect(f.general).toBe('');
  });
});
