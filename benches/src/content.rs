//! File contents that compress like real ones.
//!
//! Random bytes would make every store look bad (nothing compresses) and zeros would make every store
//! look good (everything compresses to nothing). Code is lines built from templates of PHP, XML, JS,
//! CSS, HTML, JSON and prose, filled from a vocabulary with a per-file set of favourite identifiers, so
//! zstd gets the 3-5x it gets on real code. Images and fonts are high-entropy, as compressed formats are.

use std::io::{self, Write};

use crate::rng::Rng;

/// What kind of content a file holds, decided by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    /// PHP and PHP-like code (`.php`, `.inc`, `.phtml` mixed with HTML).
    Php,
    /// XML, XSD, SVG.
    Xml,
    /// JavaScript, TypeScript.
    Js,
    /// CSS and LESS.
    Css,
    /// HTML templates.
    Html,
    /// JSON, composer lock files.
    Json,
    /// Comma-separated data.
    Csv,
    /// Prose: Markdown, text, AsciiDoc, YAML.
    Text,
    /// Already-compressed binary data: images, fonts.
    Binary,
}

impl ContentKind {
    /// The kind for an extension (with its leading dot; `""` for none).
    pub fn for_extension(ext: &str) -> ContentKind {
        match ext {
            ".php" | ".inc" | ".fixed" | ".dist" | ".phtml" | "" => ContentKind::Php,
            ".xml" | ".xsd" | ".svg" | ".xsl" => ContentKind::Xml,
            ".js" | ".ts" | ".htc" | ".graphqls" => ContentKind::Js,
            ".css" | ".less" => ContentKind::Css,
            ".html" | ".htm" => ContentKind::Html,
            ".json" | ".lock" => ContentKind::Json,
            ".csv" => ContentKind::Csv,
            ".gif" | ".jpg" | ".png" | ".ico" | ".woff" | ".woff2" | ".eot" | ".ttf" | ".jbf" => {
                ContentKind::Binary
            }
            _ => ContentKind::Text,
        }
    }

    /// True for line-oriented text content.
    pub fn is_text(self) -> bool {
        self != ContentKind::Binary
    }
}

const WORDS: &[&str] = &[
    "product",
    "customer",
    "order",
    "quote",
    "item",
    "store",
    "website",
    "config",
    "value",
    "data",
    "result",
    "request",
    "response",
    "model",
    "resource",
    "collection",
    "factory",
    "repository",
    "attribute",
    "entity",
    "option",
    "price",
    "stock",
    "source",
    "cache",
    "index",
    "layout",
    "block",
    "template",
    "theme",
    "locale",
    "currency",
    "payment",
    "shipping",
    "address",
    "region",
    "country",
    "category",
    "image",
    "media",
    "gallery",
    "search",
    "filter",
    "criteria",
    "builder",
    "provider",
    "resolver",
    "handler",
    "manager",
    "service",
    "message",
    "queue",
    "event",
    "observer",
    "plugin",
    "interceptor",
    "proxy",
    "logger",
    "serializer",
    "json",
    "url",
    "path",
    "file",
    "directory",
    "name",
    "type",
    "code",
    "label",
    "title",
    "status",
    "state",
    "total",
    "amount",
    "qty",
    "sku",
    "id",
    "key",
    "scope",
    "field",
    "column",
    "table",
    "select",
    "connection",
    "adapter",
];

const CLASSES: &[&str] = &[
    "Product",
    "Customer",
    "Order",
    "Quote",
    "Store",
    "Config",
    "Collection",
    "Factory",
    "Repository",
    "Attribute",
    "Resource",
    "Manager",
    "Provider",
    "Resolver",
    "Builder",
    "Handler",
    "Interface",
    "Context",
    "Registry",
    "Session",
    "Helper",
    "Data",
    "Action",
    "Result",
    "Page",
    "Layout",
    "Block",
    "Template",
];

/// Per-file state: favourite identifiers and a nesting level, so a file repeats itself as code does.
struct Style {
    idents: Vec<String>,
    classes: Vec<String>,
    indent: usize,
}

impl Style {
    fn new(rng: &mut Rng) -> Style {
        let idents = (0..40)
            .map(|_| {
                let a = rng.pick(WORDS);
                let b = rng.pick(WORDS);
                let mut s = a.to_string();
                let mut cs = b.chars();
                if let Some(c) = cs.next() {
                    s.push(c.to_ascii_uppercase());
                    s.push_str(cs.as_str());
                }
                s
            })
            .collect();
        let classes = (0..16)
            .map(|_| format!("{}{}", rng.pick(CLASSES), rng.pick(CLASSES)))
            .collect();
        Style {
            idents,
            classes,
            indent: 1,
        }
    }

    fn ident(&self, rng: &mut Rng) -> &str {
        // Mostly the file's own identifiers, sometimes any word: real files reuse their names.
        if rng.chance(0.55) {
            rng.pick(&self.idents).as_str()
        } else {
            rng.pick::<&str>(WORDS)
        }
    }

    fn class(&self, rng: &mut Rng) -> &str {
        rng.pick(&self.classes).as_str()
    }
}

fn pad(out: &mut Vec<u8>, indent: usize) {
    out.extend(std::iter::repeat_n(b' ', indent * 4));
}

fn number(out: &mut Vec<u8>, rng: &mut Rng) {
    let bound = if rng.chance(0.7) { 100 } else { 1_000_000 };
    let _ = write!(out, "{}", rng.below(bound));
}

fn hex(out: &mut Vec<u8>, rng: &mut Rng) {
    let _ = write!(out, "{:08x}", rng.next_u64() as u32);
}

/// Appends one line of `kind` content (ending in `\n`) to `out`.
fn line(kind: ContentKind, style: &mut Style, rng: &mut Rng, out: &mut Vec<u8>) {
    let r = rng.below(10);
    if r == 0 {
        style.indent = (style.indent + 1).min(4);
    } else if r == 1 {
        style.indent = style.indent.saturating_sub(1).max(1);
    }
    let ind = style.indent;
    let i1 = style.ident(rng).to_string();
    let i2 = style.ident(rng).to_string();
    let c = style.class(rng).to_string();
    match kind {
        ContentKind::Php => {
            pad(out, ind);
            match rng.below(9) {
                0 => {
                    let _ = write!(
                        out,
                        "public function get{c}(${i1}, array ${i2} = []): ?{c}Interface"
                    );
                }
                1 => {
                    let _ = write!(out, "${i1} = $this->{i2}->get{c}(${i1}, ");
                    number(out, rng);
                    out.extend_from_slice(b");");
                }
                2 => {
                    let _ = write!(out, "if (${i1} === null || !isset(${i2}['{i1}'])) {{");
                }
                3 => out.extend_from_slice(b"}"),
                4 => {
                    let _ = write!(out, "return $this->{i1}Factory->create()->load(${i2});");
                }
                5 => {
                    let _ = write!(out, " * @param \\Magento\\Framework\\{c} ${i1}");
                }
                6 => {
                    let _ = write!(out, "private const {} = '{i2}_", i1.to_ascii_uppercase());
                    hex(out, rng);
                    out.extend_from_slice(b"';");
                }
                7 => {
                    let _ = write!(out, "use Magento\\{c}\\Model\\{c};");
                }
                _ => {
                    let _ = write!(
                        out,
                        "throw new LocalizedException(__('The \"%1\" {i1} is invalid.', ${i2}));"
                    );
                }
            }
        }
        ContentKind::Xml => {
            pad(out, ind);
            match rng.below(5) {
                0 => {
                    let _ = write!(out, "<{i1} name=\"{i2}\" xsi:type=\"string\">{c}</{i1}>");
                }
                1 => {
                    let _ = write!(out, "<argument name=\"{i1}\" xsi:type=\"object\">Magento\\{c}\\Model\\{c}</argument>");
                }
                2 => {
                    let _ = write!(out, "<item name=\"{i1}\" xsi:type=\"number\">");
                    number(out, rng);
                    out.extend_from_slice(b"</item>");
                }
                3 => {
                    let _ = write!(out, "<type name=\"Magento\\{c}\\Api\\{c}Interface\">");
                }
                _ => {
                    let _ = write!(out, "</{i1}>");
                }
            }
        }
        ContentKind::Js => {
            pad(out, ind);
            match rng.below(6) {
                0 => {
                    let _ = write!(out, "{i1}: function ({i2}) {{");
                }
                1 => {
                    let _ = write!(out, "var {i1} = this.{i2}.get('{i1}') || ");
                    number(out, rng);
                    out.push(b';');
                }
                2 => {
                    let _ = write!(
                        out,
                        "if (!{i1} || {i2}.length === 0) {{ return $.Deferred().reject(); }}"
                    );
                }
                3 => out.extend_from_slice(b"},"),
                4 => {
                    let _ = write!(
                        out,
                        "define(['jquery', 'Magento_{c}/js/model/{i1}'], function ($, {i2}) {{"
                    );
                }
                _ => {
                    let _ = write!(out, "this.{i1}({i2}, '{c}', ");
                    number(out, rng);
                    out.extend_from_slice(b");");
                }
            }
        }
        ContentKind::Css => match rng.below(5) {
            0 => {
                let _ = write!(out, ".{i1}-{i2} .{i1}__{c} {{");
            }
            1 | 2 => {
                pad(out, 1);
                let _ = write!(
                    out,
                    "{}: ",
                    ["margin", "padding", "color", "width", "font-size", "border"][rng.below(6)]
                );
                number(out, rng);
                out.extend_from_slice(b"px;");
            }
            3 => {
                pad(out, 1);
                let _ = write!(out, "@{i1}__color: #");
                hex(out, rng);
                out.push(b';');
            }
            _ => out.push(b'}'),
        },
        ContentKind::Html => {
            pad(out, ind);
            match rng.below(4) {
                0 => {
                    let _ = write!(
                        out,
                        "<div class=\"{i1} {i2}\" data-bind=\"visible: {i1}()\">"
                    );
                }
                1 => {
                    let _ = write!(out, "<span data-bind=\"i18n: '{c} {i2}'\"></span>");
                }
                2 => {
                    let _ = write!(out, "<?= $block->escapeHtml($block->get{c}()) ?>");
                }
                _ => out.extend_from_slice(b"</div>"),
            }
        }
        ContentKind::Json => {
            pad(out, ind);
            match rng.below(3) {
                0 => {
                    let _ = write!(out, "\"{i1}/{i2}\": \"^");
                    number(out, rng);
                    out.extend_from_slice(b".0\",");
                }
                1 => {
                    let _ = write!(out, "\"{i1}\": {{");
                }
                _ => {
                    let _ = write!(out, "\"shasum\": \"");
                    hex(out, rng);
                    hex(out, rng);
                    out.extend_from_slice(b"\"},");
                }
            }
        }
        ContentKind::Csv => {
            let _ = write!(out, "\"{i1}\",\"{c} {i2}\",\"");
            number(out, rng);
            out.extend_from_slice(b"\"");
        }
        ContentKind::Text | ContentKind::Binary => {
            for k in 0..(4 + rng.below(8)) {
                if k > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(style.ident(rng).as_bytes());
            }
            out.push(b'.');
        }
    }
    out.push(b'\n');
}

/// Streams `size` bytes of `kind` content determined by `seed` into `w`.
pub fn write_content(
    w: &mut impl Write,
    kind: ContentKind,
    size: u64,
    seed: u64,
) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(64 * 1024 + 512);
    let mut left = size;
    let mut style = Style::new(&mut rng);
    while left > 0 {
        buf.clear();
        if kind.is_text() {
            while buf.len() < 64 * 1024 && (buf.len() as u64) < left {
                line(kind, &mut style, &mut rng, &mut buf);
            }
        } else {
            buf.resize(64 * 1024, 0);
            rng.fill(&mut buf);
        }
        let n = (buf.len() as u64).min(left) as usize;
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// `count` fresh lines of `kind` content from `rng`, for edits that replace lines of a file.
pub fn fresh_lines(kind: ContentKind, rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    let mut style = Style::new(rng);
    (0..count)
        .map(|_| {
            let mut l = Vec::new();
            line(kind, &mut style, rng, &mut l);
            l
        })
        .collect()
}
