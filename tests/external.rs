//! External steps (external-task.md) end to end: real Chromium opens the fixture app (on the
//! fixture server, another origin than ours), the app talks to our server through the served
//! client, and the task WebSocket, the panel, the controller socket and REST see it.

mod common;

use std::net::SocketAddr;

use common::client::{loopback_config, shared_server, start_server, Client, PATIENCE};
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn external(target: &str, config: Value) -> Value {
    json!({
        "tool_name": "external_task",
        "intention": "external step",
        "args": {"id": "stage_1", "target_url": url(target), "config": config},
    })
}

/// The app's log events of `kind` that reached the task WebSocket.
fn logs<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["externalTask"]["event"] == "log" && m["externalTask"]["event_type"] == kind)
        .map(|m| &m["externalTask"]["data"])
        .collect()
}

/// The JSON the command ended with (its result text).
fn result_of(complete: &Value, index: usize) -> Value {
    let text = complete["results"][index]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no result text: {complete}"));
    serde_json::from_str(text).unwrap()
}

fn last(messages: &[Value]) -> &Value {
    messages.last().unwrap()
}

/// Submits and reads until the step's window has opened: (task id, its token, messages).
async fn started(client: &mut Client, commands: Vec<Value>) -> (String, String, Vec<Value>) {
    let id = client.submit(task("external", commands)).await;
    let seen = client
        .recv_until(|m| m["externalTask"]["event"] == "opened" && m["taskId"] == id)
        .await;
    let token = last(&seen)["externalTask"]["task_token"]
        .as_str()
        .unwrap()
        .to_string();
    (id, token, seen)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .0
}

/// The next JSON message, or the close frame's code.
async fn next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return Err(None),
        }
    }
}

/// A socket whose messages are waited for by kind, in any order: what arrives before is kept
/// for later waits.
struct Socket {
    ws: Ws,
    seen: std::collections::VecDeque<Value>,
}

impl Socket {
    async fn open(url: &str) -> Socket {
        Socket {
            ws: ws(url).await,
            seen: Default::default(),
        }
    }

    fn from(ws: Ws) -> Socket {
        Socket {
            ws,
            seen: Default::default(),
        }
    }

    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.seen.iter().position(&pred) {
            return self.seen.remove(at).unwrap();
        }
        loop {
            match next(&mut self.ws).await {
                Ok(m) if pred(&m) => return m,
                Ok(m) => self.seen.push_back(m),
                Err(code) => panic!("closed ({code:?}) before {what}; saw {:#?}", self.seen),
            }
        }
    }

    async fn of(&mut self, kind: &str) -> Value {
        self.until(kind, |m| m["type"] == kind).await
    }

    /// The next `log_event` of the app's `kind` (a controller's socket).
    async fn log(&mut self, kind: &str) -> Value {
        self.until(kind, |m| {
            m["type"] == "log_event" && m["payload"]["event_type"] == kind
        })
        .await
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The close code, skipping messages before it.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            match next(&mut self.ws).await {
                Ok(m) => self.seen.push_back(m),
                Err(code) => return code,
            }
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[test]
fn the_app_opens_in_each_window_mode_reports_and_its_result_is_the_commands() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        for (mode, size) in [
            ("popup", Some((700, 500))),
            ("tab", None),
            ("fullscreen", None),
        ] {
            let config = json!({
                "completion_mode": "required", "window_mode": mode,
                "window_width": 700, "window_height": 500, "timeout_ms": 60000,
            });
            let id = client
                .submit(task(
                    "external",
                    vec![external("external-app.html?auto=complete", config)],
                ))
                .await;
            let seen = client.until_complete(&id).await;
            let complete = last(&seen);
            assert_eq!(complete["status"], "completed", "{mode}: {complete}");
            let result = result_of(complete, 0);
            assert_eq!(result["completed"], true, "{result}");
            assert_eq!(result["data"]["score"], 95);
            assert_eq!(result["data"]["attempt"], 1);
            assert_eq!(result["attempts"][0]["outcome"], "completed");
            // The app's progress and logs reached the task's subscribers.
            assert!(
                seen.iter().any(|m| m["externalTask"]["event"] == "progress"
                    && m["externalTask"]["progress"] == 50.0
                    && m["externalTask"]["step"] == "half"),
                "{seen:#?}"
            );
            assert!(seen
                .iter()
                .any(|m| m["externalTask"]["event"] == "connected"));
            assert_eq!(logs(&seen, "auto").len(), 1);
            let window = logs(&seen, "window")[0].clone();
            match size {
                Some((w, h)) => {
                    assert_eq!(
                        (
                            window["outerWidth"].as_u64(),
                            window["outerHeight"].as_u64()
                        ),
                        (Some(w), Some(h)),
                        "{window}"
                    );
                }
                None if mode == "fullscreen" => {
                    assert_eq!(window["outerWidth"], window["screenWidth"], "{window}");
                    assert_eq!(window["outerHeight"], window["screenHeight"], "{window}");
                }
                None => {}
            }
            // The URL carried the token, the ws_url, the session and the stage.
            let params = logs(&seen, "params")[0].clone();
            assert_eq!(params["session_id"], id);
            assert_eq!(params["stage_id"], "stage_1");
            assert_eq!(params["task_token"].as_str().unwrap().len(), 32);
            assert!(params["ws_url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("ws://{addr}/api/ws/external-task/")));
            // try_close_on_complete: the app heard close and its window is gone.
            assert!(logs(&seen, "closing").len() == 1, "{seen:#?}");
        }
    });
}

#[test]
fn the_controller_commands_the_app_and_hears_its_acks() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        let config = json!({
            "completion_mode": "required", "timeout_ms": 60000, "window_mode": "tab",
            "enable_reverse_control": true,
            "reverse_commands": ["restart", "pause", "resume", "custom"],
        });
        let (id, token, _) =
            started(&mut client, vec![external("external-app.html", config)]).await;
        // The running command carries the token for its owner.
        let status = client
            .request(
                json!({"type": "task_status", "taskId": id}),
                "task_status_response",
            )
            .await;
        assert_eq!(
            status["task"]["commands"][0]["externalTask"]["task_token"], token,
            "{status}"
        );
        let mut controller = Socket::open(&format!(
            "ws://{addr}/api/ws/external-task/{token}?role=controller"
        ))
        .await;
        let state = controller.of("state").await;
        assert_eq!(state["payload"]["stage_id"], "stage_1");
        let connected = controller.of("external_app_connected").await;
        assert_eq!(connected["payload"]["session_id"], id);
        for (command, log) in [
            ("restart", "restarted"),
            ("pause", "paused"),
            ("resume", "resumed"),
        ] {
            controller
                .send(json!({"type": "send_command", "payload": {"command": command}}))
                .await;
            let result = controller.of("command_result").await;
            assert_eq!(result["payload"]["ok"], true, "{result}");
            assert_eq!(
                result["payload"]["ack"],
                json!({"command": command, "success": true})
            );
            controller.log(log).await;
        }
        controller.send(json!({"type": "send_command", "payload": {"command": "custom", "action": "highlight_element", "data": {"elementId": "target"}}})).await;
        let result = controller.of("command_result").await;
        assert_eq!(result["payload"]["ack"]["success"], true, "{result}");
        let custom = controller.log("custom").await;
        assert_eq!(
            custom["payload"]["data"],
            json!({"action": "highlight_element", "data": {"elementId": "target"}})
        );
        // A handler that throws: the app says so.
        controller.send(json!({"type": "send_command", "payload": {"command": "custom", "action": "explode"}})).await;
        let result = controller.of("command_result").await;
        assert_eq!(result["payload"]["ack"]["success"], false, "{result}");
        // close is not among this step's reverse_commands.
        controller
            .send(json!({"type": "send_command", "payload": {"command": "close"}}))
            .await;
        let refused = controller.of("command_result").await;
        assert_eq!(refused["payload"]["ok"], false);
        assert!(
            refused["payload"]["error"]
                .as_str()
                .unwrap()
                .contains("not one of this step's reverse_commands"),
            "{refused}"
        );
        // REST: the same command, answered with the app's ack; the state.
        let base = format!("http://{addr}/api/external-tasks/{token}");
        let ack: Value = http()
            .post(format!("{base}/command"))
            .json(&json!({"command": "pause"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ack,
            json!({"success": true, "ack": {"command": "pause", "success": true}})
        );
        let refused = http()
            .post(format!("{base}/command"))
            .json(&json!({"command": "close"}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 409);
        let misspelt = http()
            .post(format!("{base}/command"))
            .json(&json!({"comand": "pause"}))
            .send()
            .await
            .unwrap();
        assert_eq!(misspelt.status(), 400);
        assert!(misspelt
            .text()
            .await
            .unwrap()
            .contains("did you mean command"));
        let state: Value = http()
            .get(&base)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(state["connected"], true, "{state}");
        assert!(state["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["event_type"] == "paused"));
        // The app completes on a custom command; the controller hears it.
        controller.send(json!({"type": "send_command", "payload": {"command": "custom", "action": "complete_now"}})).await;
        let done = controller.of("task_completed").await;
        assert_eq!(done["payload"]["data"]["via"], "custom");
        let seen = client.until_complete(&id).await;
        assert_eq!(result_of(last(&seen), 0)["data"]["via"], "custom");
        // The token died with its step.
        assert_eq!(http().get(&base).send().await.unwrap().status(), 404);
    });
}

#[test]
fn without_reverse_control_commands_are_refused() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        let config =
            json!({"completion_mode": "manual", "timeout_ms": 60000, "window_mode": "tab"});
        let (id, token, _) =
            started(&mut client, vec![external("external-app.html", config)]).await;
        let base = format!("http://{addr}/api/external-tasks/{token}");
        let refused = http()
            .post(format!("{base}/command"))
            .json(&json!({"command": "restart"}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 409);
        assert!(refused
            .text()
            .await
            .unwrap()
            .contains("reverse control is not enabled"));
        // manual: a person marks it done.
        let done: Value = http()
            .post(format!("{base}/done"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(done, json!({"success": true, "completed": true}));
        let seen = client.until_complete(&id).await;
        let result = result_of(last(&seen), 0);
        assert_eq!(result["completed"], true);
        assert_eq!(result["markedBy"], "local");
        assert_eq!(result["attempts"][0]["outcome"], "marked_done");
    });
}

#[test]
fn completion_modes_optional_and_required() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        // optional: going on without the app is recorded as incomplete.
        let config =
            json!({"completion_mode": "optional", "timeout_ms": 60000, "window_mode": "tab"});
        let (id, token, _) =
            started(&mut client, vec![external("external-app.html", config)]).await;
        let done: Value = http()
            .post(format!("http://{addr}/api/external-tasks/{token}/done"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(done["completed"], false);
        let seen = client.until_complete(&id).await;
        let result = result_of(last(&seen), 0);
        assert_eq!(
            (result["completed"].clone(), result["incomplete"].clone()),
            (json!(false), json!(true))
        );
        // required: only the app completes it.
        let config =
            json!({"completion_mode": "required", "timeout_ms": 60000, "window_mode": "tab"});
        let (id, token, _) = started(
            &mut client,
            vec![external("external-app.html?auto=progress", config)],
        )
        .await;
        let refused = http()
            .post(format!("http://{addr}/api/external-tasks/{token}/done"))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 409);
        client
            .send(json!({"type": "task_cancel", "taskId": id}))
            .await;
        let seen = client.until_complete(&id).await;
        assert_eq!(last(&seen)["status"], "cancelled");
    });
}

#[test]
fn timeouts_retry_up_to_max_retries_skip_and_fail() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        let quick = |action: &str, retries: u32| {
            json!({"completion_mode": "required", "timeout_ms": 1500, "timeout_action": action,
                   "max_retries": retries, "window_mode": "tab"})
        };
        // retry: three attempts (two retries), then COMMAND_TIMEOUT.
        let id = client
            .submit(task(
                "retry",
                vec![external("external-app.html?auto=never", quick("retry", 2))],
            ))
            .await;
        let seen = client.until_complete(&id).await;
        let complete = last(&seen);
        assert_eq!(complete["status"], "failed", "{complete}");
        assert_eq!(complete["error"]["code"], "COMMAND_TIMEOUT");
        let opened: Vec<_> = seen
            .iter()
            .filter(|m| m["externalTask"]["event"] == "opened")
            .map(|m| m["externalTask"]["attempt"].clone())
            .collect();
        assert_eq!(opened, vec![json!(1), json!(2), json!(3)]);
        let tokens: std::collections::HashSet<_> = seen
            .iter()
            .filter_map(|m| m["externalTask"]["task_token"].as_str())
            .collect();
        assert_eq!(tokens.len(), 3, "each attempt has its own token");
        // retry then success on attempt 2.
        let id = client
            .submit(task(
                "retry ok",
                vec![external(
                    "external-app.html?complete_on_attempt=2",
                    quick("retry", 3),
                )],
            ))
            .await;
        let seen = client.until_complete(&id).await;
        let result = result_of(last(&seen), 0);
        assert_eq!(result["data"]["attempt"], 2, "{result}");
        let outcomes: Vec<_> = result["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["outcome"].clone())
            .collect();
        assert_eq!(outcomes, vec![json!("timeout"), json!("completed")]);
        // skip: a step that is not mandatory ends without failing the task.
        let mut skip = external("external-app.html", quick("skip", 0));
        skip["args"]["mandatory"] = json!(false);
        let id = client
            .submit(task("skip", vec![skip, execute("1 + 1")]))
            .await;
        let seen = client.until_complete(&id).await;
        assert_eq!(last(&seen)["status"], "completed", "{}", last(&seen));
        assert_eq!(result_of(last(&seen), 0)["skipped"], true);
        // skip on a mandatory step, and fail: COMMAND_TIMEOUT.
        for action in ["skip", "fail"] {
            let id = client
                .submit(task(
                    action,
                    vec![external("external-app.html", quick(action, 0))],
                ))
                .await;
            let seen = client.until_complete(&id).await;
            assert_eq!(
                last(&seen)["error"]["code"],
                "COMMAND_TIMEOUT",
                "{action}: {}",
                last(&seen)
            );
        }
    });
}

#[test]
fn a_timeout_prompt_is_an_approval_request_a_person_answers() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        let config = json!({"completion_mode": "required", "timeout_ms": 1500, "timeout_action": "prompt",
                            "max_retries": 2, "window_mode": "tab",
                            "timeout_message": "Took too long: try again?"});
        let id = client
            .submit(task(
                "prompt",
                vec![external("external-app.html?complete_on_attempt=2", config)],
            ))
            .await;
        let asked = client
            .recv_until(|m| m["type"] == "approval_request" && m["taskId"] == id)
            .await;
        let request = last(&asked);
        let approval_id = request["approvalId"].as_str().unwrap().to_string();
        assert_eq!(request["commandIndex"], 0);
        assert_eq!(request["rule"]["source"], "external_task");
        // The agent API shows its choices and message.
        let shown: Value = http()
            .get(format!("http://{addr}/api/agent/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = shown.to_string();
        assert!(
            text.contains("Took too long: try again?") && text.contains("\"retry\""),
            "{text}"
        );
        // A choice it does not offer is refused, naming it.
        let wrong = http()
            .post(format!("http://{addr}/api/agent/{id}/approve"))
            .json(&json!({"approvalId": approval_id, "choice": "skip"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            400,
            "skip is not offered on a mandatory step"
        );
        let answer = http()
            .post(format!("http://{addr}/api/agent/{id}/approve"))
            .json(&json!({"approvalId": approval_id, "choice": "retry"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
        let seen = client.until_complete(&id).await;
        let result = result_of(last(&seen), 0);
        assert_eq!(result["data"]["attempt"], 2, "{result}");
    });
}

#[test]
fn placeholders_fill_the_apps_url_and_unknown_ones_are_refused() {
    block_on(async {
        let mut config = config(1);
        config
            .public_values
            .insert("STUDY_NAME".into(), "memory study".into());
        let (scheduler, _permit) = private_scheduler_with(config).await;
        let server = start_server(&scheduler, loopback_config()).await;
        let addr = server.local_addr();
        let mut client = Client::connect(addr).await;
        let step = json!({
            "completion_mode": "required", "timeout_ms": 60000, "window_mode": "tab",
            "custom_params": {"study_name": "${PUBLIC.STUDY_NAME}", "participant": "p-${session.participant_number}", "n": 3},
        });
        let mut submission = task(
            "params",
            vec![external("external-app.html?auto=complete", step.clone())],
        );
        submission["metadata"] = json!({"participant_number": 42});
        let id = client.submit(submission).await;
        let seen = client.until_complete(&id).await;
        let params = logs(&seen, "params")[0].clone();
        assert_eq!(params["study_name"], "memory study");
        assert_eq!(params["participant"], "p-42");
        assert_eq!(params["n"], "3");
        // The init payload carries participant_number from the metadata.
        assert!(seen
            .iter()
            .any(|m| m["externalTask"]["event"] == "connected"));
        // No metadata: refused at submission, naming the parameter.
        let mut missing = task("missing", vec![external("external-app.html", step.clone())]);
        missing["type"] = "task_submit".into();
        let reply = client.request(missing, "task_submit_response").await;
        assert_eq!(reply["status"], "rejected", "{reply}");
        assert!(
            reply["error"]
                .as_str()
                .unwrap()
                .contains("custom_params.participant"),
            "{reply}"
        );
        // An unknown placeholder and a misspelt option: validation errors naming them.
        for (config, field) in [
            (
                json!({"completion_mode": "required", "custom_params": {"x": "${user.name}"}}),
                "config.custom_params.x",
            ),
            (json!({"completion_mod": "required"}), "completion_mod"),
        ] {
            let mut bad = task("bad", vec![external("external-app.html", config)]);
            bad["type"] = "task_submit".into();
            let reply = client.request(bad, "task_submit_response").await;
            let error = reply["error"].as_str().unwrap_or_default().to_string();
            assert!(error.contains(field), "{field}: {reply}");
        }
        server.shutdown().await;
    });
}

#[test]
fn bad_tokens_are_refused_and_bad_messages_answered() {
    block_on(async {
        let addr = shared_server().await;
        // A standalone external task: no browser step.
        let init: Value = http()
            .post(format!("http://{addr}/sessions/sess_9/external-task/init"))
            .json(&json!({"stage_id": "survey", "config": {"completion_mode": "required", "enable_reverse_control": true}, "participant_number": 7}))
            .send().await.unwrap().json().await.unwrap();
        let token = init["task_token"].as_str().unwrap().to_string();
        assert_eq!(
            init["ws_url"],
            format!("ws://{addr}/api/ws/external-task/{token}")
        );
        // A wrong token, from a foreign page (Origin of another site): refused, 4004.
        let wrong = format!("ws://{addr}/api/ws/external-task/{}", "0".repeat(32));
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(wrong)
                .unwrap();
        request
            .headers_mut()
            .insert("Origin", "http://evil.example".parse().unwrap());
        let (mut refused, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(next(&mut refused).await, Err(Some(4004)));
        // The live token from a foreign Origin works: the app's path takes one.
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                init["ws_url"].as_str().unwrap(),
            )
            .unwrap();
        request
            .headers_mut()
            .insert("Origin", "http://app.example".parse().unwrap());
        let mut app = Socket::from(tokio_tungstenite::connect_async(request).await.unwrap().0);
        // Every other route still refuses that Origin.
        let foreign = http()
            .get(format!("http://{addr}/tasks"))
            .header("Origin", "http://app.example")
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), 403);
        let mut controller = Socket::open(&format!(
            "ws://{addr}/api/ws/external-task/{token}?role=controller"
        ))
        .await;
        controller.of("state").await;
        // Bad messages get an error naming the fault; the connection stays usable.
        app.send(json!({"type": "progres"})).await;
        let error = app.of("error").await;
        assert!(
            error["payload"]["message"]
                .as_str()
                .unwrap()
                .contains("did you mean progress"),
            "{error}"
        );
        app.send(json!({"type": "progress", "payload": {"progress": 250}}))
            .await;
        let error = app.of("error").await;
        assert!(
            error["payload"]["message"]
                .as_str()
                .unwrap()
                .starts_with("payload.progress"),
            "{error}"
        );
        app.send(json!({"type": "ready"})).await;
        let init_msg = app.of("init").await;
        assert_eq!(init_msg["payload"]["session_id"], "sess_9");
        assert_eq!(init_msg["payload"]["stage_id"], "survey");
        assert_eq!(init_msg["payload"]["participant_number"], 7);
        controller.of("external_app_connected").await;
        app.send(json!({"type": "progress", "payload": {"progress": 40, "step": "q2"}}))
            .await;
        let progress = controller.of("progress_update").await;
        assert_eq!(progress["payload"], json!({"progress": 40.0, "step": "q2"}));
        // The controller's command reaches the app, whose ack comes back.
        controller
            .send(json!({"type": "send_command", "payload": {"command": "pause"}}))
            .await;
        let command = app.of("command").await;
        assert_eq!(command["payload"], json!({"command": "pause"}));
        app.send(json!({"type": "command_ack", "payload": {"command": "pause", "success": true}}))
            .await;
        let result = controller.of("command_result").await;
        assert_eq!(result["payload"]["ack"]["success"], true);
        // A second app connection replaces the first (a reconnecting app).
        let mut again = Socket::open(init["ws_url"].as_str().unwrap()).await;
        assert_eq!(app.closed().await, Some(4001));
        again.send(json!({"type": "ready"})).await;
        again.of("init").await;
        // An oversized message is refused: the connection is closed.
        let huge = "x".repeat(2 << 20);
        let _ = again
            .ws
            .send(Message::Text(
                json!({"type": "log", "payload": {"event_type": "big", "data": huge}})
                    .to_string()
                    .into(),
            ))
            .await;
        assert_ne!(again.closed().await, Some(4004));
        let mut app = Socket::open(init["ws_url"].as_str().unwrap()).await;
        app.send(json!({"type": "ready"})).await;
        app.of("init").await;
        app.send(json!({"type": "complete", "payload": {"data": {"score": 3}}}))
            .await;
        let done = controller.of("task_completed").await;
        assert_eq!(done["payload"]["data"]["score"], 3);
        // The token dies once the task is complete: refused like a wrong one.
        assert_eq!(app.closed().await, Some(4000));
        let mut late = Socket::open(init["ws_url"].as_str().unwrap()).await;
        assert_eq!(late.closed().await, Some(4004));
    });
}

#[test]
fn the_specs_own_client_code_works_against_us() {
    block_on(async {
        let addr: SocketAddr = shared_server().await;
        let mut client = Client::connect(addr).await;
        let config = json!({"completion_mode": "required", "timeout_ms": 60000, "window_mode": "tab",
                            "custom_params": {"server": addr.to_string()}});
        let mut submission = task(
            "spec client",
            vec![external("external-spec-client.html", config)],
        );
        submission["metadata"] = json!({"participant_number": 42});
        let id = client.submit(submission).await;
        let seen = client.until_complete(&id).await;
        let complete = last(&seen);
        assert_eq!(complete["status"], "completed", "{complete}");
        let result = result_of(complete, 0);
        assert_eq!(
            result["data"],
            json!({"result": "success", "score": 95, "responses": {"q1": "a"}, "duration_ms": 1234})
        );
        assert_eq!(logs(&seen, "started")[0]["participant"], 42);
        assert!(seen.iter().any(
            |m| m["externalTask"]["progress"] == 100.0 && m["externalTask"]["step"] == "step_2"
        ));
    });
}

#[test]
fn the_panel_and_the_journal_show_the_apps_progress() {
    block_on(async {
        let addr = shared_server().await;
        let mut client = Client::connect(addr).await;
        let config =
            json!({"completion_mode": "manual", "timeout_ms": 60000, "window_mode": "tab"});
        let (id, token, _) = started(
            &mut client,
            vec![external("external-app.html?auto=progress", config)],
        )
        .await;
        let mut panel = Client::panel(addr, &id).await;
        panel
            .recv_until(|m| {
                m["type"] == "step_update"
                    && m["payload"]["details"]
                        .as_str()
                        .is_some_and(|d| d.contains("External task: 50%"))
            })
            .await;
        panel
            .recv_until(|m| {
                m["type"] == "message"
                    && m["payload"]["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("External app: auto"))
            })
            .await;
        http()
            .post(format!("http://{addr}/api/external-tasks/{token}/done"))
            .send()
            .await
            .unwrap();
        client.until_complete(&id).await;
        let journal = env().shared.tasks().journal(&id, 0).await.unwrap();
        assert!(journal.iter().any(|e| matches!(&e.what,
            browser_control::task::Happened::ExternalProgress { progress: Some(p), .. } if *p == 50.0)), "{journal:?}");
    });
}
