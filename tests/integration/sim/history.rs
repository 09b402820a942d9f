//! Histories as data: generated from a seed first, then executed, so that a failing one
//! can be shrunk by removing steps. Rows are named by creation order ("hero#2": the
//! third hero any client created); a step on a row its client does not have is a no-op.

use std::fmt;

use is_core::rng::{Rng, SplitMix64};
use is_core::{
    CustomEventInput, EventCategory, EventTone, EventType, HeroInput, HeroTrait, Language,
    StoryInput,
};

use crate::net::FaultRates;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Hero,
    Story,
    Event,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Hero, Kind::Story, Kind::Event];

    pub fn entity(self) -> is_protocol::EntityKind {
        match self {
            Kind::Hero => is_protocol::EntityKind::Hero,
            Kind::Story => is_protocol::EntityKind::Story,
            Kind::Event => is_protocol::EntityKind::CustomEvent,
        }
    }

    pub fn from_entity(e: is_protocol::EntityKind) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.entity() == e)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hero => "hero",
            Kind::Story => "story",
            Kind::Event => "event",
        }
    }
}

/// A new row. A story names its hero and custom event by creation index.
#[derive(Debug, Clone, PartialEq)]
pub enum NewRow {
    Hero(HeroInput),
    Story {
        input: StoryInput,
        hero: Option<usize>,
        event: Option<usize>,
    },
    Event(CustomEventInput),
}

impl NewRow {
    pub fn kind(&self) -> Kind {
        match self {
            NewRow::Hero(_) => Kind::Hero,
            NewRow::Story { .. } => Kind::Story,
            NewRow::Event(_) => Kind::Event,
        }
    }
}

/// One field set by an edit (a form save changes only these).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Name(String),
    Age(u8),
    Traits(Vec<HeroTrait>),
    Appearance(String),
    Ability(String),
    Title(String),
    Content(String),
    Language(Language),
    /// The story's hero: a hero by creation index, or none.
    StoryHero(Option<usize>),
    StoryEvent(EventType),
    /// The story's custom event, by creation index (clears its event type).
    StoryCustomEvent(usize),
    EventTitle(String),
    Description(String),
    PromptSeed(String),
    Keywords(Vec<String>),
    Category(EventCategory),
    Tone(EventTone),
    Emoji(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    KeepMine,
    UseServer,
    /// The dialog's merge, with the fields it asks about chosen by the bits of `pick`.
    Merge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create {
        c: usize,
        row: NewRow,
    },
    Edit {
        c: usize,
        kind: Kind,
        target: usize,
        changes: Vec<Change>,
    },
    Delete {
        c: usize,
        kind: Kind,
        target: usize,
    },
    /// Plays of a story, uses of a custom event.
    Increment {
        c: usize,
        kind: Kind,
        target: usize,
        times: u8,
    },
    Favorite {
        c: usize,
        kind: Kind,
        target: usize,
        on: bool,
    },
    /// `times` syncs in a row, the clocks moving ten minutes between them (the retry
    /// timer firing while the client waits, often offline).
    Sync {
        c: usize,
        times: u8,
    },
    /// Settles one of the client's conflicts (the `pick`-th, modulo their number).
    Resolve {
        c: usize,
        pick: u8,
        choice: Choice,
    },
    /// The process ends and starts again on its database file.
    Restart {
        c: usize,
    },
    /// The server prunes every tombstone (zero horizon): older cursors get 410.
    Prune,
    Faults(FaultRates),
    /// Settings: this client settles conflicts of `kind` with `strategy`.
    Strategy {
        c: usize,
        kind: Kind,
        strategy: is_core::ConflictStrategy,
    },
    Partition {
        c: usize,
        steps: u8,
    },
    Heal,
}

/// A step and the seconds every clock moves before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub dt: u32,
    pub step: Step,
    /// Seeds the network's fate for the requests of this step (and only this step), so
    /// that removing other steps while shrinking leaves this step's faults as they were.
    pub salt: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub clients: usize,
    /// Each client's clock skew from the server's, in seconds.
    pub skews: Vec<i64>,
    pub steps: Vec<Timed>,
}

struct Gen {
    rng: SplitMix64,
    /// Rows of each kind created so far (by creation steps).
    created: [usize; 3],
    /// Unique suffix for generated text, so that every written value names its write.
    n: usize,
    /// Per client: steps left in its partition, as generated.
    offline: Vec<usize>,
}

impl Gen {
    fn below(&self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.rng.next_u64() % n as u64) as usize
        }
    }

    fn chance(&self, p: f64) -> bool {
        self.rng.next_f64() < p
    }

    fn pick<T: Clone>(&self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    fn text(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}{}", self.n)
    }

    /// A row of `kind` by creation index, recent ones more often.
    fn target(&self, kind: Kind) -> usize {
        let n = self.created[kind as usize];
        if n > 3 && self.chance(0.5) {
            n - 1 - self.below(3)
        } else {
            self.below(n.max(1))
        }
    }

    fn traits(&self) -> Vec<HeroTrait> {
        let mut out = Vec::new();
        for _ in 0..1 + self.below(3) {
            let t = self.pick(&HeroTrait::ALL);
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    fn keywords(&mut self) -> Vec<String> {
        (0..self.below(3)).map(|_| self.text("k")).collect()
    }

    fn new_row(&mut self) -> NewRow {
        match self.below(3) {
            0 => NewRow::Hero(HeroInput {
                name: self.text("hero-"),
                age: 1 + self.below(18) as u8,
                traits: self.traits(),
                appearance: self.text("looks-"),
                special_ability: self.text("can-"),
                ..Default::default()
            }),
            1 => {
                let hero =
                    (self.created[0] > 0 && self.chance(0.6)).then(|| self.target(Kind::Hero));
                let event =
                    (self.created[2] > 0 && self.chance(0.3)).then(|| self.target(Kind::Event));
                NewRow::Story {
                    input: StoryInput {
                        hero_id: None,
                        title: self.text("title-"),
                        content: self.text("content-"),
                        language: self.pick(&Language::ALL),
                        event_type: Some(self.pick(&EventType::ALL)),
                        custom_event_id: None,
                        is_favorite: false,
                        ..Default::default()
                    },
                    hero,
                    event,
                }
            }
            _ => NewRow::Event(CustomEventInput {
                title: self.text("event-"),
                description: self.text("about-"),
                prompt_seed: self.text("seed-"),
                keywords: self.keywords(),
                category: self.pick(&EventCategory::ALL),
                tone: self.pick(&EventTone::ALL),
                pictogram_emoji: self.pick(&EMOJIS).to_owned(),
                is_favorite: false,
                ..Default::default()
            }),
        }
    }

    fn change(&mut self, kind: Kind) -> Change {
        match kind {
            Kind::Hero => match self.below(5) {
                0 => Change::Name(self.text("hero-")),
                1 => Change::Age(1 + self.below(18) as u8),
                2 => Change::Traits(self.traits()),
                3 => Change::Appearance(self.text("looks-")),
                _ => Change::Ability(self.text("can-")),
            },
            Kind::Story => match self.below(6) {
                0 => Change::Title(self.text("title-")),
                1 => Change::Content(self.text("content-")),
                2 => Change::Language(self.pick(&Language::ALL)),
                3 => Change::StoryHero(self.chance(0.8).then(|| self.target(Kind::Hero))),
                4 => Change::StoryEvent(self.pick(&EventType::ALL)),
                _ => Change::StoryCustomEvent(self.target(Kind::Event)),
            },
            Kind::Event => match self.below(7) {
                0 => Change::EventTitle(self.text("event-")),
                1 => Change::Description(self.text("about-")),
                2 => Change::PromptSeed(self.text("seed-")),
                3 => Change::Keywords(self.keywords()),
                4 => Change::Category(self.pick(&EventCategory::ALL)),
                5 => Change::Tone(self.pick(&EventTone::ALL)),
                _ => Change::Emoji(self.pick(&EMOJIS).to_owned()),
            },
        }
    }

    fn rates(&self) -> FaultRates {
        let r = |max: f64| self.rng.next_f64() * max;
        match self.below(4) {
            0 => FaultRates::default(),
            1 => FaultRates {
                drop: r(0.15),
                lose: r(0.15),
                e503: r(0.08),
                e429: r(0.05),
                delay: r(0.2),
            },
            2 => FaultRates {
                lose: 0.2 + r(0.3),
                ..Default::default()
            },
            _ => FaultRates {
                drop: r(0.4),
                lose: r(0.25),
                e503: r(0.1),
                e429: r(0.08),
                delay: r(0.3),
            },
        }
    }

    fn step(&mut self, clients: usize) -> Step {
        for o in &mut self.offline {
            *o = o.saturating_sub(1);
        }
        let c = self.below(clients);
        let with_counter = [Kind::Story, Kind::Event];
        let roll = self.below(100);
        match roll {
            0..=13 => {
                let row = self.new_row();
                self.created[row.kind() as usize] += 1;
                Step::Create { c, row }
            }
            14..=37 => {
                let kind = self.pick(&Kind::ALL);
                let changes = (0..1 + self.below(2)).map(|_| self.change(kind)).collect();
                Step::Edit {
                    c,
                    kind,
                    target: self.target(kind),
                    changes,
                }
            }
            38..=42 => {
                let kind = self.pick(&Kind::ALL);
                Step::Delete {
                    c,
                    kind,
                    target: self.target(kind),
                }
            }
            43..=50 => {
                let kind = self.pick(&with_counter);
                Step::Increment {
                    c,
                    kind,
                    target: self.target(kind),
                    times: 1 + self.below(3) as u8,
                }
            }
            51..=55 => {
                let kind = self.pick(&with_counter);
                Step::Favorite {
                    c,
                    kind,
                    target: self.target(kind),
                    on: self.chance(0.6),
                }
            }
            // A client cut off keeps trying on its retry timer.
            56..=76 if self.offline[c] > 0 && self.chance(0.6) => Step::Sync {
                c,
                times: 3 + self.below(8) as u8,
            },
            56..=76 => Step::Sync {
                c,
                times: if self.chance(0.05) { 2 } else { 1 },
            },
            77..=78 => {
                use is_core::ConflictStrategy as S;
                Step::Strategy {
                    c,
                    kind: self.pick(&Kind::ALL),
                    // Mostly "ask me", which puts rows in conflict for the user.
                    strategy: self.pick(&[
                        S::UserPrompt,
                        S::UserPrompt,
                        S::UserPrompt,
                        S::Merge,
                        S::LastWriteWins,
                        S::ServerWins,
                        S::LocalWins,
                    ]),
                }
            }
            79..=83 => Step::Resolve {
                c,
                pick: self.below(256) as u8,
                choice: self.pick(&[Choice::KeepMine, Choice::UseServer, Choice::Merge]),
            },
            84..=87 => Step::Restart { c },
            88..=89 => Step::Prune,
            90..=93 => Step::Faults(self.rates()),
            94..=97 => {
                // Now and then a long time offline (a laptop on a trip).
                let steps = if self.chance(0.25) {
                    10 + self.below(20)
                } else {
                    2 + self.below(8)
                };
                self.offline[c] = self.offline[c].max(steps);
                Step::Partition {
                    c,
                    steps: steps as u8,
                }
            }
            _ => {
                self.offline.iter_mut().for_each(|o| *o = 0);
                Step::Heal
            }
        }
    }
}

/// Pictograms the generator picks from (each one valid emoji).
const EMOJIS: [&str; 6] = ["🎂", "⭐", "🎈", "🐶", "🌙", "🚀"];

impl History {
    /// The history of `seed`: 3 to 5 clients with skewed clocks, 40 to 80 steps.
    pub fn generate(seed: u64) -> History {
        let mut g = Gen {
            rng: SplitMix64::new(seed ^ 0x005E_ED0F_4157_0123),
            created: [0; 3],
            n: 0,
            offline: Vec::new(),
        };
        let clients = 3 + g.below(3);
        g.offline = vec![0; clients];
        let skews = (0..clients)
            .map(|_| g.below(12 * 3600 + 1) as i64 - 6 * 3600)
            .collect();
        let len = 40 + g.below(41);
        let mut steps = Vec::with_capacity(len);
        for _ in 0..len {
            let dt = if g.chance(0.05) {
                600 + g.below(1800) as u32
            } else {
                g.below(60) as u32
            };
            let step = g.step(clients);
            let salt = g.rng.next_u64();
            steps.push(Timed { dt, step, salt });
        }
        History {
            clients,
            skews,
            steps,
        }
    }

    /// This history without the steps at `drop` (indices into `steps`).
    pub fn without(&self, drop: &[usize]) -> History {
        History {
            clients: self.clients,
            skews: self.skews.clone(),
            steps: self
                .steps
                .iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, s)| s.clone())
                .collect(),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Name(v) => write!(f, "name={v:?}"),
            Change::Age(v) => write!(f, "age={v}"),
            Change::Traits(v) => write!(f, "traits={}", traits(v)),
            Change::Appearance(v) => write!(f, "appearance={v:?}"),
            Change::Ability(v) => write!(f, "special_ability={v:?}"),
            Change::Title(v) | Change::EventTitle(v) => write!(f, "title={v:?}"),
            Change::Content(v) => write!(f, "content={v:?}"),
            Change::Language(v) => write!(f, "language={}", v.as_str()),
            Change::StoryHero(Some(h)) => write!(f, "hero=hero#{h}"),
            Change::StoryHero(None) => write!(f, "hero=none"),
            Change::StoryEvent(e) => write!(f, "event_type={}", e.as_str()),
            Change::StoryCustomEvent(e) => write!(f, "custom_event=event#{e}"),
            Change::Description(v) => write!(f, "description={v:?}"),
            Change::PromptSeed(v) => write!(f, "prompt_seed={v:?}"),
            Change::Keywords(v) => write!(f, "keywords={v:?}"),
            Change::Category(v) => write!(f, "category={}", v.as_str()),
            Change::Tone(v) => write!(f, "tone={}", v.as_str()),
            Change::Emoji(v) => write!(f, "emoji={v}"),
        }
    }
}

fn traits(v: &[HeroTrait]) -> String {
    let names: Vec<&str> = v.iter().map(|t| t.as_str()).collect();
    format!("[{}]", names.join(","))
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Create { c, row } => match row {
                NewRow::Hero(h) => write!(
                    f,
                    "c{c} create hero {:?} age={} traits={}",
                    h.name,
                    h.age,
                    traits(&h.traits)
                ),
                NewRow::Story { input, hero, event } => {
                    write!(f, "c{c} create story {:?}", input.title)?;
                    if let Some(h) = hero {
                        write!(f, " hero=hero#{h}")?;
                    }
                    match event {
                        Some(e) => write!(f, " custom_event=event#{e}"),
                        None => write!(
                            f,
                            " event_type={}",
                            input.event_type.map_or("none", |e| e.as_str())
                        ),
                    }
                }
                NewRow::Event(e) => write!(f, "c{c} create event {:?}", e.title),
            },
            Step::Edit {
                c,
                kind,
                target,
                changes,
            } => {
                write!(f, "c{c} edit {}#{target}", kind.name())?;
                for ch in changes {
                    write!(f, " {ch}")?;
                }
                Ok(())
            }
            Step::Delete { c, kind, target } => write!(f, "c{c} delete {}#{target}", kind.name()),
            Step::Increment {
                c,
                kind,
                target,
                times,
            } => write!(f, "c{c} increment {}#{target} x{times}", kind.name()),
            Step::Favorite {
                c,
                kind,
                target,
                on,
            } => {
                write!(f, "c{c} favourite {}#{target} = {on}", kind.name())
            }
            Step::Sync { c, times: 1 } => write!(f, "c{c} sync"),
            Step::Sync { c, times } => write!(f, "c{c} sync x{times}, 10 min apart"),
            Step::Resolve { c, pick, choice } => write!(f, "c{c} resolve #{pick} {choice:?}"),
            Step::Restart { c } => write!(f, "c{c} restart"),
            Step::Prune => write!(f, "server prunes tombstones"),
            Step::Faults(r) if r.is_calm() => write!(f, "network calm"),
            Step::Faults(r) => write!(f, "network faults {r}"),
            Step::Partition { c, steps } => write!(f, "c{c} partitioned for {steps} steps"),
            Step::Heal => write!(f, "network healed"),
            Step::Strategy { c, kind, strategy } => write!(
                f,
                "c{c} settings: {} conflicts by {}",
                kind.name(),
                strategy.as_str()
            ),
        }
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skews: Vec<String> = self
            .skews
            .iter()
            .enumerate()
            .map(|(i, s)| format!("c{i} {:+}s", s))
            .collect();
        writeln!(
            f,
            "{} clients, clock skews: {}",
            self.clients,
            skews.join(", ")
        )?;
        for (i, t) in self.steps.iter().enumerate() {
            writeln!(f, "  {i:>3}  +{:>4}s  {}", t.dt, t.step)?;
        }
        Ok(())
    }
}
