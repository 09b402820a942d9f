//! Tauri commands: extract state, call the core, map the error. Nothing else.

use is_core::{Account, Core, CoreError, ErrorPayload, HeroInput, HeroView, SyncOverview, SyncReport};
use tauri::State;
use uuid::Uuid;

type Res<T> = Result<T, ErrorPayload>;

fn ipc(e: CoreError) -> ErrorPayload {
    e.to_payload()
}

#[tauri::command]
pub fn account_get(core: State<'_, Core>) -> Res<Option<Account>> {
    core.account().map_err(ipc)
}

#[tauri::command]
pub async fn sign_in(core: State<'_, Core>, email: String, password: String) -> Res<Account> {
    core.sign_in(&email, &password).await.map_err(ipc)
}

#[tauri::command]
pub async fn sign_up(core: State<'_, Core>, email: String, password: String, name: String) -> Res<Account> {
    core.sign_up(&email, &password, &name).await.map_err(ipc)
}

#[tauri::command]
pub async fn sign_out(core: State<'_, Core>) -> Res<()> {
    core.sign_out().await.map_err(ipc)
}

#[tauri::command]
pub fn heroes_list(core: State<'_, Core>) -> Res<Vec<HeroView>> {
    core.list_heroes().map_err(ipc)
}

#[tauri::command]
pub fn hero_get(core: State<'_, Core>, id: Uuid) -> Res<HeroView> {
    core.get_hero(id).map_err(ipc)
}

#[tauri::command]
pub fn hero_create(core: State<'_, Core>, input: HeroInput) -> Res<HeroView> {
    core.create_hero(input).map_err(ipc)
}

#[tauri::command]
pub fn hero_update(core: State<'_, Core>, id: Uuid, input: HeroInput) -> Res<HeroView> {
    core.update_hero(id, input).map_err(ipc)
}

#[tauri::command]
pub fn hero_delete(core: State<'_, Core>, id: Uuid) -> Res<()> {
    core.delete_hero(id).map_err(ipc)
}

#[tauri::command]
pub fn hero_retry(core: State<'_, Core>, id: Uuid) -> Res<HeroView> {
    core.retry_hero(id).map_err(ipc)
}

#[tauri::command]
pub fn hero_discard(core: State<'_, Core>, id: Uuid) -> Res<()> {
    core.discard_hero(id).map_err(ipc)
}

#[tauri::command]
pub async fn sync_now(core: State<'_, Core>) -> Res<SyncReport> {
    core.sync_now().await.map_err(ipc)
}

#[tauri::command]
pub fn sync_overview(core: State<'_, Core>) -> Res<SyncOverview> {
    core.overview().map_err(ipc)
}

#[tauri::command]
pub fn set_work_offline(core: State<'_, Core>, enabled: bool) -> Res<SyncOverview> {
    core.set_work_offline(enabled).map_err(ipc)
}
