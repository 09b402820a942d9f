import { describe, expect, it } from 'vitest';
import { describeError, errorCode, fieldMessages, toErrorPayload } from './errors';

describe('toErrorPayload', () => {
  it('keeps a payload from the core', () => {
    const payload = { code: 'validation', message: 'bad', fields: [{ field: 'name', message: 'empty' }] };
    expect(toErrorPayload(payload)).toEqual(payload);
  });

  it('fills in missing or malformed fields', () => {
    expect(toErrorPayload({ code: 'server', message: 'boom' })).toEqual({ code: 'server', message: 'boom', fields: [] });
    expect(toErrorPayload({ code: 'x', message: 'y', fields: [{ field: 1 }, { field: 'a', message: 'b' }] }).fields).toEqual([
      { field: 'a', message: 'b' },
    ]);
  });

  it('turns anything else into an internal error', () => {
    expect(toErrorPayload('Command hero_create not found')).toEqual({
      code: 'internal',
      message: 'Command hero_create not found',
      fields: [],
    });
    expect(toErrorPayload(new TypeError('nope'))).toEqual({ code: 'internal', message: 'nope', fields: [] });
    expect(toErrorPayload(null)).toEqual({ code: 'internal', message: 'null', fields: [] });
    expect(toErrorPayload(42).message).toBe('42');
  });
});

describe('error helpers', () => {
  it('knows the codes of the core and the server, and no others', () => {
    expect(errorCode({ code: 'email_taken', message: '', fields: [] })).toBe('email_taken');
    expect(errorCode({ code: 'teapot', message: '', fields: [] })).toBeNull();
  });

  it('keeps the first message for each field', () => {
    expect(
      fieldMessages([
        { field: 'name', message: 'first' },
        { field: 'name', message: 'second' },
        { field: 'age', message: 'too old' },
      ]),
    ).toEqual({ name: 'first', age: 'too old' });
  });

  it('words known codes for people and passes others through', () => {
    expect(describeError({ code: 'offline', message: 'x', fields: [] })).toMatch(/Can’t reach the Infinite Stories server/);
    expect(describeError({ code: 'server', message: 'the server answered 503: busy', fields: [] })).not.toMatch(/503/);
    expect(describeError({ code: 'limit_reached', message: 'the server answered 500: x', fields: [] })).not.toMatch(/500/);
    expect(describeError({ code: 'limit_reached', message: 'You have used this month’s stories.', fields: [] })).toBe(
      'You have used this month’s stories.',
    );
    // A transport failure's message is raw: people get a sentence instead.
    expect(describeError({ code: 'server', message: 'Server said no', fields: [] })).toMatch(/^The server had a problem/);
    expect(describeError({ code: 'bad_request', message: 'Server said no', fields: [] })).toBe('Server said no');
    expect(describeError({ code: 'bad_request', message: '', fields: [] })).toBe('Something went wrong.');
  });
});
