//! Procedural pictures: hero avatars and story illustrations, drawn from a seed (so the
//! same input always gives the same bytes) and encoded as PNG with the `png` crate.

use sha2::{Digest, Sha256};

use crate::faults::SplitMix64;

pub const AVATAR_SIZE: u32 = 256;
pub const ILLUSTRATION_WIDTH: u32 = 512;
pub const ILLUSTRATION_HEIGHT: u32 = 320;

/// A 64-bit seed from any text.
pub fn seed_of(parts: &[&str]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    /// From hue (0-360), saturation and lightness (0-1).
    pub fn hsl(h: f32, s: f32, l: f32) -> Rgb {
        let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
        let hp = (h.rem_euclid(360.0)) / 60.0;
        let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
        let (r, g, b) = match hp as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        let m = l - c / 2.0;
        Rgb(r + m, g + m, b + m)
    }

    fn mix(self, other: Rgb, t: f32) -> Rgb {
        Rgb(
            self.0 + (other.0 - self.0) * t,
            self.1 + (other.1 - self.1) * t,
            self.2 + (other.2 - self.2) * t,
        )
    }
}

/// An RGB picture being drawn.
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    px: Vec<Rgb>,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            px: vec![Rgb(0.0, 0.0, 0.0); (width * height) as usize],
        }
    }

    fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 || alpha <= 0.0 {
            return;
        }
        let i = (y as u32 * self.width + x as u32) as usize;
        self.px[i] = self.px[i].mix(c, alpha.min(1.0));
    }

    /// A vertical gradient over the whole canvas.
    pub fn vertical_gradient(&mut self, top: Rgb, bottom: Rgb) {
        for y in 0..self.height {
            let c = top.mix(bottom, y as f32 / (self.height - 1).max(1) as f32);
            for x in 0..self.width {
                self.px[(y * self.width + x) as usize] = c;
            }
        }
    }

    /// An anti-aliased filled ellipse.
    pub fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: Rgb, alpha: f32) {
        let (x0, x1) = (
            (cx - rx - 1.0).floor() as i64,
            (cx + rx + 1.0).ceil() as i64,
        );
        let (y0, y1) = (
            (cy - ry - 1.0).floor() as i64,
            (cy + ry + 1.0).ceil() as i64,
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let dx = (x as f32 + 0.5 - cx) / rx;
                let dy = (y as f32 + 0.5 - cy) / ry;
                let d = (dx * dx + dy * dy).sqrt();
                // ~1 px of soft edge.
                let edge = 1.0 / rx.min(ry).max(1.0);
                let cover = ((1.0 - d) / edge + 0.5).clamp(0.0, 1.0);
                self.blend(x, y, c, cover * alpha);
            }
        }
    }

    pub fn circle(&mut self, cx: f32, cy: f32, r: f32, c: Rgb, alpha: f32) {
        self.ellipse(cx, cy, r, r, c, alpha);
    }

    /// A thick arc (part of a circle outline) from angle `a0` to `a1` (radians).
    #[allow(clippy::too_many_arguments)]
    pub fn arc(&mut self, cx: f32, cy: f32, r: f32, a0: f32, a1: f32, thick: f32, c: Rgb) {
        let steps = ((a1 - a0).abs() * r).max(8.0) as usize;
        for i in 0..=steps {
            let a = a0 + (a1 - a0) * i as f32 / steps as f32;
            self.circle(cx + r * a.cos(), cy + r * a.sin(), thick / 2.0, c, 1.0);
        }
    }

    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: Rgb, alpha: f32) {
        for yy in y.floor() as i64..(y + h).ceil() as i64 {
            for xx in x.floor() as i64..(x + w).ceil() as i64 {
                self.blend(xx, yy, c, alpha);
            }
        }
    }

    /// A five-pointed star.
    pub fn star(&mut self, cx: f32, cy: f32, r: f32, c: Rgb) {
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let dx = x as f32 + 0.5 - cx;
                let dy = y as f32 + 0.5 - cy;
                let d = (dx * dx + dy * dy).sqrt();
                let a = dy.atan2(dx) + std::f32::consts::FRAC_PI_2;
                // Radius of the star outline at this angle: between r and r * 0.45.
                let k = (a * 5.0 / 2.0).cos().abs();
                let edge = r * (0.45 + 0.55 * k.powf(6.0));
                if d <= edge {
                    self.blend(x, y, c, 1.0);
                }
            }
        }
    }

    /// A filled band under the curve `y = base + amp * sin(freq * x + phase)`.
    pub fn hill(&mut self, base: f32, amp: f32, freq: f32, phase: f32, c: Rgb) {
        for x in 0..self.width {
            let top = base + amp * (freq * x as f32 + phase).sin();
            for y in top.max(0.0) as u32..self.height {
                let cover = if (y as f32) < top + 1.0 {
                    y as f32 + 1.0 - top
                } else {
                    1.0
                };
                self.blend(x as i64, y as i64, c, cover);
            }
        }
    }

    /// The picture as 8-bit RGB rows.
    pub fn to_rgb8(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.px.len() * 3);
        for p in &self.px {
            for v in [p.0, p.1, p.2] {
                out.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
        out
    }

    /// PNG-encodes the picture.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().expect("writing to a Vec cannot fail");
            writer
                .write_image_data(&self.to_rgb8())
                .expect("the data matches the header");
        }
        out
    }
}

/// A hero's avatar: a round, friendly face on a two-colour background, with a star per
/// trait. Colours, hair and eyes come from `seed`.
pub fn avatar(seed: u64, traits: usize) -> Canvas {
    let mut rng = SplitMix64::new(seed);
    let s = AVATAR_SIZE as f32;
    let mut c = Canvas::new(AVATAR_SIZE, AVATAR_SIZE);
    let hue = (rng.next_f64() * 360.0) as f32;
    c.vertical_gradient(
        Rgb::hsl(hue, 0.65, 0.72),
        Rgb::hsl(hue + 40.0 + rng.next_f64() as f32 * 80.0, 0.6, 0.5),
    );
    // Shoulders.
    let shirt = Rgb::hsl(hue + 180.0, 0.55, 0.45);
    c.ellipse(s * 0.5, s * 1.02, s * 0.38, s * 0.28, shirt, 1.0);
    // Face.
    let skin_tones = [
        Rgb(0.98, 0.84, 0.71),
        Rgb(0.94, 0.76, 0.6),
        Rgb(0.82, 0.62, 0.45),
        Rgb(0.63, 0.45, 0.3),
        Rgb(0.45, 0.31, 0.21),
    ];
    let skin = skin_tones[(rng.next_u64() % skin_tones.len() as u64) as usize];
    let hair = Rgb::hsl(
        (rng.next_f64() * 50.0) as f32,
        0.5,
        0.12 + rng.next_f64() as f32 * 0.45,
    );
    c.circle(s * 0.5, s * 0.43, s * 0.27, hair, 1.0);
    c.circle(s * 0.5, s * 0.48, s * 0.23, skin, 1.0);
    // Fringe.
    c.ellipse(s * 0.5, s * 0.3, s * 0.22, s * 0.08, hair, 1.0);
    // Eyes.
    let eye_y = s * 0.46;
    let eye_dx = s * (0.075 + rng.next_f64() as f32 * 0.02);
    let iris = Rgb::hsl((rng.next_f64() * 360.0) as f32, 0.5, 0.3);
    for side in [-1.0, 1.0] {
        c.circle(
            s * 0.5 + side * eye_dx,
            eye_y,
            s * 0.035,
            Rgb(1.0, 1.0, 1.0),
            1.0,
        );
        c.circle(s * 0.5 + side * eye_dx, eye_y + 1.0, s * 0.02, iris, 1.0);
        c.circle(
            s * 0.5 + side * eye_dx - 1.5,
            eye_y - 1.5,
            s * 0.006,
            Rgb(1.0, 1.0, 1.0),
            1.0,
        );
        // Rosy cheeks.
        c.circle(
            s * 0.5 + side * s * 0.13,
            s * 0.55,
            s * 0.03,
            Rgb(0.95, 0.5, 0.5),
            0.45,
        );
    }
    // Smile.
    c.arc(
        s * 0.5,
        s * 0.52,
        s * 0.08,
        0.35,
        std::f32::consts::PI - 0.35,
        s * 0.015,
        Rgb(0.55, 0.2, 0.2),
    );
    // A star per trait along the bottom.
    let n = traits.clamp(1, 5);
    for i in 0..n {
        let x = s * (0.5 + (i as f32 - (n as f32 - 1.0) / 2.0) * 0.12);
        let star = Rgb::hsl(hue + 60.0 * i as f32 + 30.0, 0.9, 0.6);
        c.star(x, s * 0.88, s * 0.045, star);
    }
    c
}

/// A story illustration: a day or night landscape with hills, a sun or moon, stars or
/// clouds, a tree and a little figure. `index` varies the scene within one story.
pub fn illustration(seed: u64, index: u32) -> Canvas {
    let mut rng = SplitMix64::new(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (w, h) = (ILLUSTRATION_WIDTH as f32, ILLUSTRATION_HEIGHT as f32);
    let mut c = Canvas::new(ILLUSTRATION_WIDTH, ILLUSTRATION_HEIGHT);
    let night = rng.chance(0.5);
    let hue = (rng.next_f64() * 360.0) as f32;
    if night {
        c.vertical_gradient(Rgb::hsl(235.0, 0.5, 0.12), Rgb::hsl(hue, 0.45, 0.35));
        for _ in 0..40 {
            let (x, y) = (rng.next_f64() as f32 * w, rng.next_f64() as f32 * h * 0.55);
            c.circle(
                x,
                y,
                0.8 + rng.next_f64() as f32 * 1.2,
                Rgb(1.0, 1.0, 0.9),
                0.9,
            );
        }
        let (mx, my) = (w * (0.15 + rng.next_f64() as f32 * 0.7), h * 0.2);
        c.circle(mx, my, 26.0, Rgb(0.98, 0.96, 0.82), 1.0);
        c.circle(mx + 10.0, my - 6.0, 22.0, Rgb::hsl(235.0, 0.5, 0.15), 1.0);
    } else {
        c.vertical_gradient(Rgb::hsl(200.0, 0.7, 0.6), Rgb::hsl(hue, 0.5, 0.85));
        let (sx, sy) = (w * (0.1 + rng.next_f64() as f32 * 0.8), h * 0.2);
        c.circle(sx, sy, 40.0, Rgb(1.0, 0.9, 0.4), 0.35);
        c.circle(sx, sy, 28.0, Rgb(1.0, 0.85, 0.3), 1.0);
        for _ in 0..3 {
            let (x, y) = (
                rng.next_f64() as f32 * w,
                h * (0.1 + rng.next_f64() as f32 * 0.25),
            );
            for k in 0..4 {
                c.circle(
                    x + k as f32 * 16.0,
                    y + (k % 2) as f32 * 5.0,
                    16.0,
                    Rgb(1.0, 1.0, 1.0),
                    0.9,
                );
            }
        }
    }
    let light = if night { 0.25 } else { 0.45 };
    for layer in 0..3 {
        let lf = layer as f32;
        c.hill(
            h * (0.55 + lf * 0.12),
            10.0 + rng.next_f64() as f32 * 18.0,
            0.005 + rng.next_f64() as f32 * 0.015,
            rng.next_f64() as f32 * std::f32::consts::TAU,
            Rgb::hsl(hue + 90.0 + lf * 15.0, 0.45, light + lf * 0.07),
        );
    }
    // A tree.
    let tx = w * (0.1 + rng.next_f64() as f32 * 0.3);
    c.rect(tx - 5.0, h * 0.62, 10.0, 45.0, Rgb(0.4, 0.26, 0.13), 1.0);
    c.circle(
        tx,
        h * 0.6,
        30.0,
        Rgb::hsl(120.0 + hue / 6.0, 0.5, light),
        1.0,
    );
    // A little figure (the hero).
    let fx = w * (0.55 + rng.next_f64() as f32 * 0.3);
    let fy = h * 0.8;
    let coat = Rgb::hsl(hue + 200.0, 0.7, 0.5);
    c.ellipse(fx, fy, 12.0, 20.0, coat, 1.0);
    c.circle(fx, fy - 28.0, 11.0, Rgb(0.96, 0.8, 0.65), 1.0);
    c.star(fx + 24.0, fy - 40.0, 9.0, Rgb(1.0, 0.85, 0.2));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_are_deterministic_distinct_and_valid_pngs() {
        let a = avatar(seed_of(&["Luna"]), 2).to_png();
        let b = avatar(seed_of(&["Luna"]), 2).to_png();
        let c = avatar(seed_of(&["Pip"]), 3).to_png();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&a));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (AVATAR_SIZE, AVATAR_SIZE));
    }

    #[test]
    fn illustrations_vary_by_index() {
        let s = seed_of(&["story"]);
        assert_ne!(illustration(s, 0).to_rgb8(), illustration(s, 1).to_rgb8());
        assert_eq!(illustration(s, 2).to_rgb8(), illustration(s, 2).to_rgb8());
    }
}
