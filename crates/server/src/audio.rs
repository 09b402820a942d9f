//! Story "narration": a gentle generated lullaby as a 16-bit PCM mono WAV whose length
//! follows the story text at about 150 words per minute, so file sizes are realistic.
//! Deterministic: the same text and seed give the same bytes.

use std::io::{self, Write};

use crate::faults::SplitMix64;

pub const SAMPLE_RATE: u32 = 16_000;
pub const WORDS_PER_MINUTE: f64 = 150.0;
/// Shortest audio made, in seconds.
pub const MIN_SECONDS: f64 = 2.0;
/// Size of the WAV header written by [`write_wav`].
pub const HEADER_LEN: u64 = 44;

/// Number of samples for a text of `words` words.
pub fn sample_count(words: usize) -> u32 {
    let secs = (words as f64 / WORDS_PER_MINUTE * 60.0).max(MIN_SECONDS);
    (secs * SAMPLE_RATE as f64).round() as u32
}

/// Duration in seconds of `samples` samples.
pub fn duration_secs(samples: u32) -> f64 {
    samples as f64 / SAMPLE_RATE as f64
}

pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Writes a WAV of `samples` samples: a soft pentatonic melody over a quiet drone,
/// chosen by `seed`. Returns the number of bytes written.
pub fn write_wav<W: Write + ?Sized>(out: &mut W, seed: u64, samples: u32) -> io::Result<u64> {
    let data_len = samples as u64 * 2;
    let riff_len = 36 + data_len;
    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&(riff_len as u32).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    header.extend_from_slice(&1u16.to_le_bytes()); // PCM
    header.extend_from_slice(&1u16.to_le_bytes()); // mono
    header.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    header.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // byte rate
    header.extend_from_slice(&2u16.to_le_bytes()); // block align
    header.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    header.extend_from_slice(b"data");
    header.extend_from_slice(&(data_len as u32).to_le_bytes());
    out.write_all(&header)?;

    // C major pentatonic over two octaves, as frequency ratios of C4.
    const C4: f64 = 261.63;
    const SCALE: [f64; 10] = [1.0, 1.125, 1.25, 1.5, 1.6667, 2.0, 2.25, 2.5, 3.0, 3.3333];
    let mut rng = SplitMix64::new(seed);
    let rate = SAMPLE_RATE as f64;
    let note_len = (rate * (0.45 + rng.next_f64() * 0.25)) as u32;
    let drone_root = [0.5, 0.5625, 0.75][(rng.next_u64() % 3) as usize] * C4;
    let mut degree: i64 = 2;
    let mut freq = C4 * SCALE[degree as usize];
    let mut phase = 0.0f64;
    let mut drone_phase = 0.0f64;
    let mut buf = Vec::with_capacity(8192);
    for n in 0..samples {
        let in_note = n % note_len;
        if in_note == 0 {
            // A gentle random walk over the scale.
            let step = (rng.next_u64() % 5) as i64 - 2;
            degree = (degree + step).clamp(0, SCALE.len() as i64 - 1);
            freq = C4 * SCALE[degree as usize];
        }
        let t_note = in_note as f64 / rate;
        let attack = (t_note / 0.03).min(1.0);
        let env = attack * (-t_note * 3.0).exp();
        phase += std::f64::consts::TAU * freq / rate;
        if phase > std::f64::consts::TAU {
            phase -= std::f64::consts::TAU;
        }
        drone_phase += std::f64::consts::TAU * drone_root / rate;
        if drone_phase > std::f64::consts::TAU {
            drone_phase -= std::f64::consts::TAU;
        }
        let t = n as f64 / rate;
        let swell = 0.75 + 0.25 * (t * 0.4).sin();
        let melody = (phase.sin() + 0.3 * (2.0 * phase).sin()) * env * 0.3;
        let drone = drone_phase.sin() * 0.08 * swell;
        // Fade in and out over half a second.
        let edge = (t / 0.5).min((samples - n) as f64 / rate / 0.5).min(1.0);
        let v = ((melody + drone) * edge).clamp(-1.0, 1.0);
        buf.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
        if buf.len() >= 8192 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    Ok(HEADER_LEN + data_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_duration() {
        let samples = sample_count(150); // one minute
        assert_eq!(samples, 60 * SAMPLE_RATE);
        assert_eq!(sample_count(1), (MIN_SECONDS as u32) * SAMPLE_RATE);
        let mut out = Vec::new();
        let len = write_wav(&mut out, 1, 32_000).unwrap();
        assert_eq!(len, out.len() as u64);
        assert_eq!(&out[..4], b"RIFF");
        assert_eq!(&out[8..16], b"WAVEfmt ");
        let data_len = u32::from_le_bytes(out[40..44].try_into().unwrap());
        assert_eq!(data_len, 64_000);
        let rate = u32::from_le_bytes(out[24..28].try_into().unwrap());
        assert_eq!(data_len as f64 / 2.0 / rate as f64, 2.0);
        let mut again = Vec::new();
        write_wav(&mut again, 1, 32_000).unwrap();
        assert_eq!(out, again);
        // Not silence.
        assert!(out[44..]
            .chunks(2)
            .any(|c| i16::from_le_bytes([c[0], c[1]]).abs() > 1000));
    }
}
