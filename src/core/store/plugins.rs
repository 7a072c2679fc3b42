//! Plugins and their versions.

use super::codec::{get_opt_ts, get_ts, now, ts_to_text};
use super::{PluginRecord, Store, StoreError, VersionRecord};
use rusqlite::{OptionalExtension, Row, params};
use std::path::{Path, PathBuf};

fn plugin_from_row(row: &Row<'_>) -> rusqlite::Result<PluginRecord> {
    Ok(PluginRecord {
        name: row.get("name")?,
        manifest_path: PathBuf::from(row.get::<_, String>("manifest_path")?),
        created_at: get_ts(row, "created_at")?,
    })
}

fn version_from_row(row: &Row<'_>) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        plugin: row.get("plugin")?,
        version: row.get("version")?,
        spec_json: row.get("spec_json")?,
        created_at: get_ts(row, "created_at")?,
        last_deployed_at: get_opt_ts(row, "last_deployed_at")?,
    })
}

const VERSION_COLUMNS: &str = "plugin, version, spec_json, created_at, last_deployed_at";

impl Store {
    /// Registers a plugin, or updates where its manifest lives; keeps its creation time.
    pub fn upsert_plugin(&self, name: &str, manifest_path: &Path) -> Result<(), StoreError> {
        // Stored as text so the file stays readable with the sqlite3 shell; a lossy
        // conversion would silently record a different path.
        let manifest = manifest_path.to_str().ok_or_else(|| {
            self.invalid(
                "the manifest path",
                format!(
                    "{} is not valid UTF-8; rename the plugin directory",
                    manifest_path.display()
                ),
            )
        })?;
        self.conn
            .execute(
                "INSERT INTO plugins (name, manifest_path, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET manifest_path = excluded.manifest_path",
                params![name, manifest, ts_to_text(&now())],
            )
            .map_err(|e| self.err("registering a plugin", e))?;
        Ok(())
    }

    /// Every registered plugin, by name.
    pub fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        let op = "listing plugins";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, manifest_path, created_at FROM plugins ORDER BY name")
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map([], plugin_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// Records a version's resolved spec, replacing the spec if the version exists; its
    /// creation and deploy times are kept.
    pub fn put_version(
        &self,
        plugin: &str,
        version: &str,
        spec_json: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO versions (plugin, version, spec_json, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plugin, version) DO UPDATE SET spec_json = excluded.spec_json",
                params![plugin, version, spec_json, ts_to_text(&now())],
            )
            .map_err(|e| self.write_err("recording a version", plugin, "version", e))?;
        Ok(())
    }

    /// Stamps a version as deployed now; the version must have been recorded.
    pub fn mark_deployed(&self, plugin: &str, version: &str) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE versions SET last_deployed_at = ?3 WHERE plugin = ?1 AND version = ?2",
                params![plugin, version, ts_to_text(&now())],
            )
            .map_err(|e| self.err("marking a version deployed", e))?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                what: format!("version `{version}` of plugin `{plugin}` (record it first)"),
            });
        }
        Ok(())
    }

    /// One version of a plugin, if recorded.
    pub fn version(
        &self,
        plugin: &str,
        version: &str,
    ) -> Result<Option<VersionRecord>, StoreError> {
        let op = "reading a version";
        self.conn
            .prepare_cached(&format!(
                "SELECT {VERSION_COLUMNS} FROM versions WHERE plugin = ?1 AND version = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![plugin, version], version_from_row)
                    .optional()
            })
            .map_err(|e| self.err(op, e))
    }

    /// A plugin's versions, most recently deployed first; never-deployed ones last, newest
    /// first.
    pub fn versions(&self, plugin: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let op = "listing versions";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {VERSION_COLUMNS} FROM versions WHERE plugin = ?1
                 ORDER BY last_deployed_at IS NULL, last_deployed_at DESC, created_at DESC,
                          rowid DESC"
            ))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![plugin], version_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;

    #[test]
    fn plugin_upsert_updates_path_and_keeps_created_at() {
        let (_dir, store) = temp_store();
        store
            .upsert_plugin("shop", Path::new("/a/plugin.toml"))
            .unwrap();
        let first = store.plugins().unwrap();
        store
            .upsert_plugin("shop", Path::new("/b/plugin.toml"))
            .unwrap();
        store
            .upsert_plugin("api", Path::new("/c/plugin.toml"))
            .unwrap();
        let all = store.plugins().unwrap();
        assert_eq!(
            all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["api", "shop"]
        );
        assert_eq!(all[1].manifest_path, Path::new("/b/plugin.toml"));
        assert_eq!(all[1].created_at, first[0].created_at);
    }

    #[test]
    fn version_round_trip_and_spec_replace() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        assert_eq!(store.version("shop", "1.0.0").unwrap(), None);
        store.put_version("shop", "1.0.0", r#"{"a":1}"#).unwrap();
        let v1 = store.version("shop", "1.0.0").unwrap().unwrap();
        assert_eq!(v1.spec_json, r#"{"a":1}"#);
        assert_eq!(v1.last_deployed_at, None);

        store.mark_deployed("shop", "1.0.0").unwrap();
        store.put_version("shop", "1.0.0", r#"{"a":2}"#).unwrap();
        let again = store.version("shop", "1.0.0").unwrap().unwrap();
        assert_eq!(again.spec_json, r#"{"a":2}"#);
        assert_eq!(again.created_at, v1.created_at);
        assert!(
            again.last_deployed_at.is_some(),
            "replace keeps deploy time"
        );
    }

    #[test]
    fn versions_are_ordered_by_last_deploy() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        for v in ["1.0.0", "1.1.0", "2.0.0", "3.0.0-rc"] {
            store.put_version("shop", v, "{}").unwrap();
        }
        // Deploy times come from the clock; set them explicitly so order does not depend on
        // two calls landing in different milliseconds.
        for (v, ts) in [
            ("1.0.0", "2025-01-01T00:00:00.000Z"),
            ("2.0.0", "2025-01-02T00:00:00.000Z"),
            ("1.1.0", "2025-01-03T00:00:00.000Z"),
        ] {
            store
                .raw()
                .execute(
                    "UPDATE versions SET last_deployed_at = ?1 WHERE version = ?2",
                    params![ts, v],
                )
                .unwrap();
        }
        let order: Vec<String> = store
            .versions("shop")
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(order, ["1.1.0", "2.0.0", "1.0.0", "3.0.0-rc"]);
        assert!(store.versions("other").unwrap().is_empty());
    }

    #[test]
    fn unknown_plugin_and_version_are_clear_errors() {
        let (_dir, store) = temp_store();
        let err = store.put_version("ghost", "1.0.0", "{}").unwrap_err();
        assert!(matches!(err, StoreError::UnknownPlugin { .. }), "{err:?}");
        assert!(
            err.to_string().contains("`ghost` is not registered"),
            "{err}"
        );

        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        let err = store.mark_deployed("shop", "9.9.9").unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("9.9.9"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_manifest_path_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let (_dir, store) = temp_store();
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/ws/\xff/plugin.toml"));
        let err = store.upsert_plugin("x", path).unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    }
}
