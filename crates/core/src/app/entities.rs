//! The same reads and writes for every entity (SPEC.md sections 4 and 5): one pattern,
//! generic over [`SyncEntity`], for heroes, stories, custom events and the profile.
//!
//! Every write is one transaction (the row and its outbox entry) that returns at once;
//! the UI is told which entity changed and a push is scheduled. Reads of one row go
//! through the entity's cache policy ([`crate::policy::read`]).

use is_protocol::EntityKind;
use uuid::Uuid;

use super::Core;
use crate::entity::{Collection, Favorite, Page, SyncEntity, SyncRow, Window};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::policy;
use crate::repo;
use crate::sync::with_entity;

impl Core {
    /// The visible rows of a collection (pending deletes hidden), in the list's order.
    pub fn list<E: Collection>(&self, filter: &E::Filter) -> Result<Vec<E::Summary>> {
        let max = self.max_attempts();
        self.db().read(|c| E::list(c, filter, max))
    }

    /// One window of a collection's list and how many rows match (the UI's lists).
    pub fn page<E: Collection>(
        &self,
        filter: &E::Filter,
        window: Window,
    ) -> Result<Page<E::Summary>> {
        let max = self.max_attempts();
        self.db().read(|c| E::page(c, filter, window.capped(), max))
    }

    /// One visible row from the cache only.
    pub fn cached<E: SyncEntity>(&self, id: Uuid) -> Result<E::View> {
        let max = self.max_attempts();
        self.db().read(|c| view_of::<E>(c, id, max))
    }

    /// One visible row through the entity's cache policy: a row the cache does not have
    /// (cacheFirst) or any row (networkFirst) is fetched from the server and cached.
    pub async fn get<E: SyncEntity>(&self, id: Uuid) -> Result<E::View> {
        let max = self.max_attempts();
        let cache = || match self.cached::<E>(id) {
            Ok(v) => Ok(Some(v)),
            Err(CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let core = self.clone();
        let network = async move {
            let rec: E::Record = core.fetch(&E::path(id)).await?;
            core.db()
                .write(|tx| core.inner.engine.store_fetched::<E>(tx, &rec))?;
            core.db().read(|c| view_of::<E>(c, id, max))
        };
        Ok(policy::read(E::POLICY, cache, network, |_| {}).await?.value)
    }

    /// Creates a row: saved and shown at once, pushed in the background.
    pub fn create<E: Collection>(&self, input: E::Input) -> Result<E::View> {
        self.write::<E, _>(|tx, ctx| repo::create::<E>(tx, ctx, input))
    }

    /// Saves the whole form: only the fields that differ become the pending change.
    pub fn update<E: SyncEntity>(&self, id: Uuid, input: E::Input) -> Result<E::View> {
        self.write::<E, _>(|tx, ctx| repo::update::<E>(tx, ctx, id, input))
    }

    /// Deletes a row (hidden at once; a row that never reached the server is gone).
    pub fn delete<E: Collection>(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db().write(|tx| repo::delete::<E>(tx, &ctx, id))?;
        if E::KIND == EntityKind::Hero {
            // Its stories show unlinked.
            self.emit(CoreEvent::DataChanged {
                entity: EntityKind::Story,
            });
        }
        self.changed_locally(E::KIND);
        Ok(())
    }

    /// Sends a failed change again.
    pub fn retry<E: SyncEntity>(&self, id: Uuid) -> Result<E::View> {
        self.write::<E, _>(|tx, ctx| repo::retry::<E>(tx, ctx, id))
    }

    /// Throws a failed change away: the row goes back to the server's copy (or away if
    /// it never reached the server).
    pub fn discard<E: SyncEntity>(&self, id: Uuid) -> Result<()> {
        let ctx = self.ctx();
        self.db().write(|tx| repo::discard::<E>(tx, &ctx, id))?;
        self.changed_locally(E::KIND);
        Ok(())
    }

    /// [`Core::retry`] for a row named by its kind (the Sync panel's failed list).
    pub fn retry_any(&self, kind: EntityKind, id: Uuid) -> Result<()> {
        with_entity!(kind, E => self.retry::<E>(id).map(drop), else => Err(Self::unsupported(kind)))
    }

    /// [`Core::discard`] for a row named by its kind.
    pub fn discard_any(&self, kind: EntityKind, id: Uuid) -> Result<()> {
        with_entity!(kind, E => self.discard::<E>(id), else => Err(Self::unsupported(kind)))
    }

    pub fn set_favorite<E: Favorite>(&self, id: Uuid, favorite: bool) -> Result<E::View> {
        self.write::<E, _>(|tx, ctx| repo::set_favorite::<E>(tx, ctx, id, favorite))
    }

    pub fn toggle_favorite<E: Favorite>(&self, id: Uuid) -> Result<E::View> {
        self.write::<E, _>(|tx, ctx| {
            let mut input = repo::get_visible::<E>(tx, id)?.fields;
            let favorite = !*E::favorite(&mut input);
            repo::set_favorite::<E>(tx, ctx, id, favorite)
        })
    }

    /// Adds one to the entity's counter (a story's plays, a custom event's uses): shown
    /// at once, sent as an increment, never a conflict.
    pub fn increment<E: SyncEntity>(&self, id: Uuid) -> Result<E::View> {
        self.write::<E, _>(|tx, ctx| repo::increment::<E>(tx, ctx, id, 1))
    }

    /// Outbox entries waiting (for tests and the Sync panel).
    pub fn outbox_len(&self) -> Result<usize> {
        self.db().read(crate::outbox::len)
    }

    /// One local write of an `E` row and its view, then the UI is told and a push is
    /// scheduled.
    fn write<E: SyncEntity, F>(&self, f: F) -> Result<E::View>
    where
        F: FnOnce(&rusqlite::Connection, &repo::Ctx<'_>) -> Result<SyncRow<E>>,
    {
        let ctx = self.ctx();
        let view = self.db().write(|tx| {
            let row = f(tx, &ctx)?;
            E::view(tx, &row, ctx.max_attempts)
        })?;
        self.changed_locally(E::KIND);
        Ok(view)
    }
}

fn view_of<E: SyncEntity>(c: &rusqlite::Connection, id: Uuid, max: u32) -> Result<E::View> {
    let row = repo::get_visible::<E>(c, id)?;
    E::view(c, &row, max)
}
