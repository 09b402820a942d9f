import { describe, expect, it, vi } from 'vitest';
import { ListFocus, type FocusRows } from './list-focus.svelte';

type Row = { id: string };

/** Rows `ids` in order, a view that records what it revealed, elements that record focus. */
function setup(initial: string[]) {
  let ids = initial;
  const rows: FocusRows<Row> = {
    get total() {
      return ids.length;
    },
    at: (i) => (ids[i] === undefined ? undefined : { id: ids[i] }),
    indexOf: (id) => ids.indexOf(id),
  };
  const revealed: number[] = [];
  const focused: string[] = [];
  const focus = new ListFocus<Row>(
    () => rows,
    () => ({ reveal: (i) => revealed.push(i), pageSize: () => 3 }),
    (item) => ({ focus: () => focused.push(item.id) }) as unknown as HTMLElement,
  );
  const key = (k: string, onRow = true, mods: Partial<KeyboardEvent> = {}) => {
    const event = {
      key: k,
      ctrlKey: false,
      metaKey: false,
      altKey: false,
      ...mods,
      target: { matches: () => onRow },
      preventDefault: vi.fn(),
    } as unknown as KeyboardEvent;
    return event;
  };
  return { focus, revealed, focused, key, setIds: (next: string[]) => (ids = next) };
}

describe('ListFocus', () => {
  it('moves with the navigation keys, revealing and focusing the row', async () => {
    const { focus, revealed, focused, key } = setup(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(focus.index).toBe(0);
    focus.keydown(key('ArrowDown'), {});
    await vi.waitFor(() => expect(focused).toEqual(['b']));
    focus.keydown(key('PageDown'), {});
    await vi.waitFor(() => expect(focused).toEqual(['b', 'e']));
    focus.keydown(key('End'), {});
    await vi.waitFor(() => expect(focused.at(-1)).toBe('g'));
    expect(revealed).toEqual([1, 4, 6]);
    expect(focus.index).toBe(6);
  });

  it('follows the active row by id when rows are inserted above it', () => {
    const { focus, setIds } = setup(['a', 'b', 'c']);
    focus.activate(1);
    setIds(['new', 'a', 'b', 'c']);
    expect(focus.index).toBe(2);
  });

  it('hands over to the row that takes the place of a deleted one, or the last', () => {
    const { focus, setIds } = setup(['a', 'b', 'c']);
    focus.activate(1);
    focus.leaving(1);
    setIds(['a', 'c']);
    expect(focus.index).toBe(1);
    setIds(['a']);
    expect(focus.index).toBe(0);
    setIds([]);
    expect(focus.index).toBe(-1);
  });

  it('gives row keys to the focused row only, letters in any case, and leaves modified keys alone', () => {
    const { focus, key } = setup(['a', 'b']);
    focus.activate(1);
    const edit = vi.fn();
    const remove = vi.fn();
    const keys = { e: edit, Delete: remove };
    focus.keydown(key('E'), keys);
    expect(edit).toHaveBeenCalledWith({ id: 'b' }, 1);
    focus.keydown(key('Delete', false), keys);
    expect(remove).not.toHaveBeenCalled();
    const ctrl = key('ArrowDown', true, { ctrlKey: true });
    focus.keydown(ctrl, keys);
    expect(ctrl.preventDefault).not.toHaveBeenCalled();
    const other = key('x');
    focus.keydown(other, keys);
    expect(other.preventDefault).not.toHaveBeenCalled();
  });
});
