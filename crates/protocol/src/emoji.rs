//! What counts as one emoji (a custom event's pictogram).

/// Longest accepted pictogram, in UTF-8 bytes.
pub const MAX_BYTES: usize = 8;

/// Emoji modifiers that may follow a base character inside one grapheme.
fn is_modifier(c: char) -> bool {
    matches!(c,
        '\u{FE0E}' | '\u{FE0F}'          // variation selectors
        | '\u{20E3}'                     // combining enclosing keycap
        | '\u{1F3FB}'..='\u{1F3FF}'      // skin tones
        | '\u{E0020}'..='\u{E007F}'      // tag characters (subdivision flags)
    )
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Whether `s` is one short pictogram: a single grapheme of at most
/// [`MAX_BYTES`] bytes that is not plain text. Recognises a base symbol with
/// modifiers (variation selectors, skin tones), zero-width-joiner sequences, keycaps
/// ("1️⃣") and flags (two regional indicators).
pub fn is_single_emoji(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_BYTES {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    if first.is_control() || first.is_whitespace() || is_modifier(first) || first == '\u{200D}' {
        return false;
    }
    if is_regional_indicator(first) {
        return chars.len() == 2 && is_regional_indicator(chars[1]);
    }
    if first.is_ascii() {
        // Only a keycap: digit, '#' or '*', an optional VS16, then U+20E3.
        let rest: String = chars[1..].iter().collect();
        return (first.is_ascii_digit() || first == '#' || first == '*')
            && (rest == "\u{20E3}" || rest == "\u{FE0F}\u{20E3}");
    }
    let mut i = 1;
    while i < chars.len() {
        let c = chars[i];
        if is_modifier(c) {
            i += 1;
        } else if c == '\u{200D}' {
            // A joiner must join to another non-ASCII, non-modifier symbol.
            match chars.get(i + 1) {
                Some(&n)
                    if !n.is_ascii()
                        && !is_modifier(n)
                        && n != '\u{200D}'
                        && !n.is_whitespace()
                        && !n.is_control() =>
                {
                    i += 2
                }
                _ => return false,
            }
        } else {
            return false;
        }
    }
    true
}
