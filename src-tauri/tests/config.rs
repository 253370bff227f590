//! The app's security settings in `tauri.conf.json`, as an operator's build gets them: a content
//! security policy that loads nothing from outside the app (no remote origin, no `eval`, no
//! plugins, no `<base>` or form target to redirect), and a frozen `Object.prototype`, so script
//! that got into the page cannot reach the network or rewrite the IPC helpers.
//!
//! Deliberately absent: the capability (which commands the window may call); `commands.rs`
//! checks that against the app's real context.

use serde_json::Value;

fn config() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tauri.conf.json"))
        .expect("tauri.conf.json is readable");
    serde_json::from_str(&text).expect("tauri.conf.json is JSON")
}

/// The policy as directive → sources.
fn csp() -> Vec<(String, Vec<String>)> {
    let config = config();
    let csp = config["app"]["security"]["csp"]
        .as_str()
        .expect("the app sets a CSP string");
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_string);
            let name = words.next().unwrap();
            (name, words.collect())
        })
        .collect()
}

fn sources(name: &str) -> Vec<String> {
    csp()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("the CSP has no {name} directive"))
}

#[test]
fn the_policy_loads_nothing_from_outside_the_app() {
    assert_eq!(sources("default-src"), ["'self'"]);
    assert_eq!(sources("script-src"), ["'self'"]);
    assert_eq!(sources("connect-src"), ["ipc:", "http://ipc.localhost"]);
    for locked in ["object-src", "base-uri", "form-action", "frame-ancestors"] {
        assert_eq!(sources(locked), ["'none'"], "{locked}");
    }
    for (name, sources) in csp() {
        for source in &sources {
            assert!(
                !source.contains("unsafe-eval") && !source.starts_with("https:"),
                "{name} allows {source}"
            );
            assert!(
                !(source == "'unsafe-inline'" && name != "style-src"),
                "{name} allows inline code"
            );
        }
    }
}

#[test]
fn the_prototype_is_frozen() {
    assert_eq!(config()["app"]["security"]["freezePrototype"], true);
}
