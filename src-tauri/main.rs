fn main() {
    infinite_stories_app::run()
}
