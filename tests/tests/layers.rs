//! The layering rules of the workspace, checked on the sources.
//!
//! The compiler already keeps the crates one way (the core `slugstore` cannot name `slugstore-deploy`:
//! it does not depend on it). Inside a crate it allows anything, so this test is the tool that keeps
//! the modules one way too: it reads every `crate::` path of each crate's sources, builds the graph of
//! its top-level modules (`store` -> `slug` when a file under `store/` names `crate::slug`), and fails
//! naming the modules of any cycle. It also holds the core to knowing nothing of Magento's files: the
//! mounts and the config file are the orchestrator's to pass in.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without comments and without its unit tests (which may reach anywhere).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules named by the `crate::` paths in `code`, including each item of a
/// `crate::{a, b::c}` group.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `slugstore_deploy::crate::` never occurs; `$crate::` in macros is the crate too.
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(group[start..i].trim()).to_owned());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(group[start..i].trim()).to_owned());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_owned());
        }
    }
    out.remove("");
    out
}

/// The graph of top-level modules of the crate whose sources are in `src`: module -> modules it names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(src);
    let top = |p: &Path| -> String {
        let rel = p.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files.iter().map(|p| top(p)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &files {
        let from = top(p);
        if from == "lib" || from == "main" {
            continue;
        }
        let named = named_modules(&code(&fs::read_to_string(p).unwrap()));
        let edges = graph.entry(from.clone()).or_default();
        edges.extend(
            named
                .into_iter()
                .filter(|m| *m != from && modules.contains(m)),
        );
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_crate_has_an_import_loop_between_its_modules() {
    for krate in [
        "slugstore",
        "slugstore-deploy",
        "slugstore-serve",
        "slugstore-cli",
    ] {
        let graph = module_graph(&root().join(krate).join("src"));
        assert!(graph.len() > 1, "{krate}: no modules found");
        let found = cycles(&graph);
        assert!(
            found.is_empty(),
            "{krate}: modules importing each other: {found:?}"
        );
    }
}

#[test]
fn the_loop_finder_finds_loops() {
    fn edge(graph: &mut BTreeMap<String, BTreeSet<String>>, a: &str, b: &str) {
        graph.entry(a.into()).or_default().insert(b.into());
    }
    let mut graph = BTreeMap::new();
    edge(&mut graph, "store", "slug");
    edge(&mut graph, "slug", "id");
    edge(&mut graph, "checkout", "targets");
    edge(&mut graph, "targets", "store");
    assert!(cycles(&graph).is_empty());
    edge(&mut graph, "targets", "checkout");
    assert_eq!(cycles(&graph), vec![vec!["checkout", "targets"]]);
    let named =
        named_modules("use crate::{error::Result, store::{Batch, Store}};\nx(crate::id::X)");
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["error", "id", "store"]
    );
}

#[test]
fn the_core_knows_nothing_of_magento_files() {
    for p in rust_files(&root().join("slugstore/src")) {
        let code = code(&fs::read_to_string(&p).unwrap());
        for needle in [".magento", "magento.app", "slugstore_deploy"] {
            assert!(
                !code.contains(needle),
                "{} names `{needle}`: the orchestrator passes what the core needs to know",
                p.display()
            );
        }
    }
}
