//! `variables`: the application's variables as the platform exposes them.
//!
//! `variables.env.NAME` become environment variables of the hooks ([`super::App::env`]); every variable,
//! whatever its prefix, is also listed in `PLATFORM_VARIABLES` under `prefix:name` (`env:APP_MODE`,
//! `php:memory_limit`), which is where ece-tools and Magento look for the non-`env` ones.

use std::collections::BTreeMap;

use super::app::App;
use super::yaml::Value;

impl App {
    /// Every variable of the `variables` section as `prefix:name` -> value (JSON, as written).
    pub fn platform_variables(&self) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        let Some(Value::Map(prefixes)) = self.variables.as_ref().map(|n| &n.value) else {
            return out;
        };
        for prefix in prefixes {
            match &prefix.value.value {
                Value::Map(vars) => {
                    for v in vars {
                        out.insert(format!("{}:{}", prefix.key, v.key), v.value.to_json());
                    }
                }
                _ => {
                    out.insert(prefix.key.clone(), prefix.value.to_json());
                }
            }
        }
        out
    }
}
