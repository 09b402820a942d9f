import { describe, expect, it } from 'vitest';
import { validateAuth } from './auth';

const ok = { email: 'parent@example.com', password: 'correct horse', name: 'Sam' };

describe('validateAuth', () => {
  it('accepts valid sign-up fields', () => {
    expect(validateAuth('sign_up', ok)).toEqual({});
  });

  it('only asks for something in both fields when signing in', () => {
    expect(validateAuth('sign_in', { email: ' ', password: '', name: '' })).toEqual({
      email: 'Enter your email address',
      password: 'Enter your password',
    });
    expect(validateAuth('sign_in', { email: 'x', password: 'short', name: '' })).toEqual({});
  });

  it.each([
    ['', true],
    ['@example.com', true],
    ['parent@', true],
    ['a@b@c', true],
    ['pa rent@example.com', true],
    [`${'a'.repeat(250)}@b.co`, true],
    ['  parent@example.com  ', false],
  ])('sign-up email %j invalid: %s', (email, invalid) => {
    expect('email' in validateAuth('sign_up', { ...ok, email })).toBe(invalid);
  });

  it('checks password length and name like the core', () => {
    expect(validateAuth('sign_up', { ...ok, password: '1234567' }).password).toBe('Use at least 8 characters');
    expect(validateAuth('sign_up', { ...ok, password: 'x'.repeat(257) }).password).toBe('Use at most 256 characters');
    expect(validateAuth('sign_up', { ...ok, name: '   ' }).name).toBeDefined();
    expect(validateAuth('sign_up', { ...ok, name: 'x'.repeat(101) }).name).toBeDefined();
  });
});
