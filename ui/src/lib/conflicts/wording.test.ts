import { describe, expect, it } from 'vitest';
import type { ConflictRecord } from '$lib/bindings/ConflictRecord';
import type { Notice } from '$lib/bindings/Notice';
import { fieldList, losingVersion, noticeAction, noticeBody, noticeHeadline, resolutionText } from './wording';

const notice = (overrides: Partial<Notice> = {}): Notice => ({
  id: 1,
  created_at: '2025-03-01T12:00:00Z',
  entity: 'hero',
  entity_id: 'h1',
  title: 'Luna',
  reason: 'replaced',
  fields: ['appearance', 'special_ability'],
  history_id: 4,
  ...overrides,
});

describe('notices in words', () => {
  it('names what was replaced', () => {
    expect(noticeHeadline(notice())).toBe('Your change was replaced');
    expect(noticeBody(notice())).toBe(
      'Your changes to the appearance and special ability of this hero were replaced by a newer version from another device.',
    );
    expect(noticeAction(notice())).toBe('history');
  });

  it('offers Restore for a row deleted elsewhere, when its version was kept', () => {
    const deleted = notice({ reason: 'deleted_elsewhere', entity: 'story', fields: [] });
    expect(noticeBody(deleted)).toMatch(/^This story was deleted on another device/);
    expect(noticeAction(deleted)).toBe('restore');
    expect(noticeAction({ ...deleted, history_id: null })).toBeNull();
  });

  it('joins field lists like a sentence', () => {
    expect(fieldList('hero', ['name'])).toBe('name');
    expect(fieldList('hero', ['name', 'age', 'traits'])).toBe('name, age and traits');
  });
});

describe('history', () => {
  const record = (resolution: string): ConflictRecord => ({
    id: 1,
    entity: 'hero',
    entity_id: 'h1',
    detected_at: '2025-03-01T12:00:00Z',
    resolution,
    local: { name: 'Mine' },
    server: { name: 'Theirs' },
  });

  it('says how a conflict was settled', () => {
    expect(resolutionText('user_merged')).toBe('You merged the two versions.');
    expect(resolutionText('server_wins')).toBe('The other device’s version was kept automatically.');
    expect(resolutionText('something_new')).toBe('The conflict was settled.');
  });

  it('restores the server version after keeping mine, else mine', () => {
    expect(losingVersion(record('user_chose_local')).lost).toEqual({ name: 'Theirs' });
    expect(losingVersion(record('local_wins')).lost).toEqual({ name: 'Theirs' });
    expect(losingVersion(record('server_wins')).lost).toEqual({ name: 'Mine' });
    expect(losingVersion(record('user_merged')).label).toBe('Your version');
  });
});
