/** The profile form's model and the usage bars. */
import { formatCount } from '$lib/ui/format';
import type { ProfileInput } from '$lib/bindings/ProfileInput';
import type { ProfileView } from '$lib/bindings/ProfileView';
import { RULES } from '$lib/bindings/rules';
import type { SubscriptionTier } from '$lib/bindings/SubscriptionTier';
import type { UsageStats } from '$lib/bindings/UsageStats';
import { checkFields, type Checked } from '$lib/ui/form/rules';

export type ProfileField = keyof ProfileInput;
export const PROFILE_FIELDS: readonly ProfileField[] = ['name', 'preferred_language', 'theme'];

export function profileDraft(profile: ProfileView): ProfileInput {
  return { name: profile.name, preferred_language: profile.preferred_language, theme: profile.theme };
}

export function validateProfile(draft: ProfileInput): Checked<ProfileInput, ProfileField> {
  const errors = checkFields(RULES.user_profile, { name: draft.name });
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, input: { ...draft, name: draft.name.trim() } };
}

export const TIER_LABELS: Record<SubscriptionTier, string> = { free: 'Free', plus: 'Plus', premium: 'Premium' };

export type UsageBar = {
  key: string;
  label: string;
  used: number;
  limit: number | null;
  /** "12 of 30", "41 minutes of 120", "12 (no limit)". */
  text: string;
  /** 0..1 of the limit; null without a limit. */
  fraction: number | null;
  tone: 'ok' | 'warn' | 'full';
};

/** Near the limit from here on (the bar turns to a warning colour). */
export const WARN_AT = 0.8;

function bar(key: string, label: string, used: number, limit: number | null, unit = ''): UsageBar {
  const amount = `${formatCount(used)}${unit}`;
  if (limit === null) {
    return { key, label, used, limit, text: `${amount} (no limit)`, fraction: null, tone: 'ok' };
  }
  const fraction = limit > 0 ? Math.min(1, used / limit) : 1;
  return {
    key,
    label,
    used,
    limit,
    text: `${amount} of ${formatCount(limit)}`,
    fraction,
    tone: used >= limit ? 'full' : fraction >= WARN_AT ? 'warn' : 'ok',
  };
}

export function usageBars(stats: UsageStats): UsageBar[] {
  return [
    bar('stories', 'Stories this month', stats.stories_this_month, stats.limits.stories_per_month),
    bar('audio', 'Narration minutes', stats.audio_minutes_this_month, stats.limits.audio_minutes_per_month),
    bar('illustrations', 'Illustrations', stats.illustrations_this_month, stats.limits.illustrations_per_month),
  ];
}
