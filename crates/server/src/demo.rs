//! Demo data (`--demo`): an account with a few heroes, so the app has something to show
//! on first launch.

use crate::sql::params;
use is_protocol::{EventType, Hero, HeroInput, HeroRecord, HeroTrait, Language, Story, StoryInput};
use uuid::Uuid;

use crate::table::{self, CreateOutcome};
use crate::{auth, storygen, AppState};

pub const DEMO_EMAIL: &str = "demo@infinitestories.app";
pub const DEMO_PASSWORD: &str = "bedtime-stories";
pub const DEMO_NAME: &str = "Demo Parent";

/// The demo heroes, created for the demo account when it has none.
pub fn demo_heroes() -> Vec<HeroInput> {
    use HeroTrait::*;
    vec![
        HeroInput {
            name: "Luna the Brave".into(),
            age: 6,
            traits: vec![Brave, Curious],
            appearance: "Curly red hair, a yellow raincoat and star-spangled boots that squeak \
                         when she jumps in puddles"
                .into(),
            special_ability: "Talks to owls and always finds the way home by the stars".into(),
            ..Default::default()
        },
        HeroInput {
            name: "Captain Pip".into(),
            age: 8,
            traits: vec![Adventurous, Funny, Loyal],
            appearance: "A tiny pirate hat, a stripy scarf and a spyglass made from a cardboard \
                         tube"
                .into(),
            special_ability: "Can build a boat out of anything, even a teacup".into(),
            ..Default::default()
        },
        HeroInput {
            name: "Wren Whisperwind".into(),
            age: 5,
            traits: vec![Kind, Gentle, Patient],
            appearance: "Freckles, a green cardigan with leaf buttons and a sleepy hedgehog in \
                         her pocket"
                .into(),
            special_ability: "Makes flowers bloom by humming to them".into(),
            ..Default::default()
        },
        HeroInput {
            name: "Milo Sparks".into(),
            age: 9,
            traits: vec![Clever, Creative, Cheerful],
            appearance: "Big round glasses, a lab coat two sizes too big and a robot dog called \
                         Bolt"
                .into(),
            special_ability: "Invents gadgets that turn bad dreams into giggles".into(),
            ..Default::default()
        },
    ]
}

/// Makes sure the demo account exists (with the demo password) and, if it has never had
/// a hero, gives it the demo heroes. Safe to run on every start.
pub fn ensure_demo_data(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let existing = state.with_conn(|conn| auth::find_user_by_email(conn, DEMO_EMAIL))?;
    let user_id = match existing {
        Some(user) => user.summary.id,
        None => {
            let hash = auth::hash_password(state.config(), DEMO_PASSWORD)?;
            let user = state
                .with_conn(|conn| auth::create_user(conn, DEMO_EMAIL, DEMO_NAME, &hash, now))
                .map_err(|e| anyhow::anyhow!("creating the demo user: {e}"))?;
            tracing::info!(email = DEMO_EMAIL, "created the demo account");
            user.id
        }
    };
    let heroes = state.with_conn(|conn| -> anyhow::Result<Vec<HeroRecord>> {
        let tx = conn.transaction()?;
        let count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM heroes WHERE user_id = ?1",
            params![user_id.to_string()],
            |r| r.get(0),
        )?;
        let mut heroes = Vec::new();
        if count == 0 {
            for input in demo_heroes() {
                match table::create::<Hero>(&tx, user_id, Uuid::now_v7(), input, now)? {
                    CreateOutcome::Created(h) => heroes.push(h),
                    other => anyhow::bail!("demo hero not created: {other:?}"),
                }
            }
            // A story for each of the first two heroes, written like generated ones.
            for (hero, event) in heroes.iter().zip([EventType::Bedtime, EventType::Birthday]) {
                let (title, content) = storygen::compose(
                    hero,
                    &storygen::Occasion::Event(event),
                    Language::En,
                    is_protocol::StoryLength::Medium,
                );
                let input = StoryInput {
                    hero_id: Some(hero.id),
                    title,
                    content,
                    language: Language::En,
                    event_type: Some(event),
                    custom_event_id: None,
                    is_favorite: false,
                    ..Default::default()
                };
                match table::create::<Story>(&tx, user_id, Uuid::now_v7(), input, now)? {
                    CreateOutcome::Created(_) => {}
                    other => anyhow::bail!("demo story not created: {other:?}"),
                }
            }
            tracing::info!("created the demo heroes and stories");
        }
        tx.commit()?;
        Ok(heroes)
    })?;
    // Their avatars, as the app would ask for them.
    for hero in &heroes {
        crate::media::draw_avatar(state, user_id, hero, Uuid::now_v7())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use is_protocol::Input as _;

    #[test]
    fn demo_heroes_are_valid() {
        for h in demo_heroes() {
            assert_eq!(h.validate(), Ok(()), "{}", h.name);
        }
    }
}
