/** Sign-in and sign-up rules, the same as the core's `validate_signup`. */
import { charCount } from '$lib/ui/format';

export type AuthMode = 'sign_in' | 'sign_up';
export type AuthFields = { email: string; password: string; name: string };
export type AuthErrors = Partial<Record<keyof AuthFields, string>>;

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 256;
const NAME_MAX = 100;

function validEmail(email: string): boolean {
  const at = email.indexOf('@');
  return (
    at > 0 &&
    at < email.length - 1 &&
    !email.slice(at + 1).includes('@') &&
    email.length <= 254 &&
    !/\s/.test(email)
  );
}

export function validateAuth(mode: AuthMode, fields: AuthFields): AuthErrors {
  const errors: AuthErrors = {};
  const email = fields.email.trim();
  if (mode === 'sign_in') {
    if (email.length === 0) errors.email = 'Enter your email address';
    if (fields.password.length === 0) errors.password = 'Enter your password';
    return errors;
  }
  if (!validEmail(email)) errors.email = 'Enter an email address like name@example.com';
  const passwordLength = charCount(fields.password);
  if (passwordLength < PASSWORD_MIN) errors.password = `Use at least ${PASSWORD_MIN} characters`;
  else if (passwordLength > PASSWORD_MAX) errors.password = `Use at most ${PASSWORD_MAX} characters`;
  const nameLength = charCount(fields.name.trim());
  if (nameLength === 0 || nameLength > NAME_MAX) {
    errors.name = `Enter a name of 1 to ${NAME_MAX} characters`;
  }
  return errors;
}
