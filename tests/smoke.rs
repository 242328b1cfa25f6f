mod common;
use common::*;
use serde_json::json;

#[test]
fn login_flow() {
    block_on(async {
        let t = run(
            "login",
            vec![
                goto("login.html"),
                nav(json!({"action":"wait_for","selector":"#login-form","timeout":5000})),
                interact(json!({"action":"type","selector":"#email","text":"ada@example.com"})),
                interact(json!({"action":"type","selector":"#password","text":"pw"})),
                interact(json!({"action":"click","selector":"#submit"})),
                nav(json!({"action":"wait_for","selector":".dashboard","timeout":5000})),
                content(json!({"action":"get_text","selector":"#welcome"})),
            ],
        )
        .await;
        assert_eq!(text_of(&t, 6), "Welcome, ada@example.com");
        assert_completed(&t);
    });
}
