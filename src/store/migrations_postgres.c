/*
 * PostgreSQL schema, one string per numbered migration, the same numbers,
 * tables, columns, indexes and constraints as migrations_sqlite.c. Never edit
 * a migration that has shipped: add the next one, to both files.
 *
 * Times stay RFC 3339 text, as on SQLite, so the store's comparisons and
 * orderings of them behave the same on both engines. Columns compared or
 * ordered as text (ids, times, keys) are COLLATE "C": byte order, like
 * SQLite, whatever locale the database was created with.
 */
#include "store/migrations.h"

#include <stddef.h>

#define KEY  "TEXT COLLATE \"C\""
#define TIME "TEXT COLLATE \"C\""

static const char m1_base[] =
    "CREATE TABLE organizations ("
    " id " KEY " PRIMARY KEY,"
    " external_id TEXT UNIQUE,"
    " name TEXT NOT NULL,"
    " created_at " TIME " NOT NULL);"

    "CREATE TABLE admin_users ("
    " id " KEY " PRIMARY KEY,"
    " organization_id " KEY " NOT NULL REFERENCES organizations(id),"
    " email TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN"
    "  ('org_member', 'org_admin', 'super_admin')),"
    " password_hash TEXT,"
    " created_at " TIME " NOT NULL,"
    " updated_at " TIME " NOT NULL);"

    "CREATE TABLE api_tokens ("
    " id " KEY " PRIMARY KEY,"
    " user_id " KEY " NOT NULL REFERENCES admin_users(id),"
    " name TEXT NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at " TIME " NOT NULL,"
    " last_used_at " TIME ","
    " revoked_at " TIME ");"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);"

    "CREATE TABLE sessions ("
    " id " KEY " PRIMARY KEY,"
    " user_id " KEY " NOT NULL REFERENCES admin_users(id),"
    " token_hash TEXT NOT NULL UNIQUE,"
    " csrf_token TEXT NOT NULL,"
    " created_at " TIME " NOT NULL,"
    " expires_at " TIME " NOT NULL);"

    "CREATE TABLE locations ("
    " id " KEY " PRIMARY KEY,"
    " organization_id " KEY " NOT NULL REFERENCES organizations(id),"
    " name TEXT NOT NULL,"
    " timezone TEXT NOT NULL,"
    " created_at " TIME " NOT NULL);"
    "CREATE INDEX locations_org ON locations(organization_id, id);"

    "CREATE TABLE server_nodes ("
    " id " KEY " PRIMARY KEY,"
    " location_id " KEY " NOT NULL REFERENCES locations(id),"
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'DECOMMISSIONED')),"
    " current_version TEXT,"
    " target_version TEXT,"
    " schema_version INTEGER,"
    " last_seen_at " TIME ","
    " online BOOLEAN NOT NULL DEFAULT FALSE,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at " TIME " NOT NULL,"
    " decommissioned_at " TIME ");"
    "CREATE UNIQUE INDEX server_nodes_one_active ON server_nodes(location_id)"
    " WHERE status = 'ACTIVE';"

    "CREATE TABLE releases ("
    " id " KEY " PRIMARY KEY,"
    " version TEXT NOT NULL UNIQUE,"
    " version_key " KEY " NOT NULL UNIQUE,"
    " channel TEXT NOT NULL CHECK (channel IN ('STABLE', 'BETA')),"
    " image_tag TEXT NOT NULL,"
    " image_digest TEXT,"
    " release_notes TEXT NOT NULL DEFAULT '',"
    " min_schema_version INTEGER,"
    " rollback_version TEXT,"
    " is_latest BOOLEAN NOT NULL DEFAULT FALSE,"
    " is_archived BOOLEAN NOT NULL DEFAULT FALSE,"
    " created_by_id " KEY " NOT NULL REFERENCES admin_users(id),"
    " created_at " TIME " NOT NULL,"
    " updated_at " TIME " NOT NULL,"
    " archived_at " TIME ");"

    "CREATE TABLE fleet_commands ("
    " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " id " KEY " NOT NULL UNIQUE,"
    " server_node_id " KEY " NOT NULL REFERENCES server_nodes(id),"
    " type TEXT NOT NULL,"
    " release_id " KEY " REFERENCES releases(id),"
    " payload JSONB NOT NULL,"
    " signature TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " created_by_id " KEY " REFERENCES admin_users(id),"
    " created_at " TIME " NOT NULL,"
    " expires_at " TIME " NOT NULL,"
    " delivered_at " TIME ","
    " acknowledged_at " TIME ","
    " started_at " TIME ","
    " finished_at " TIME ","
    " updated_at " TIME " NOT NULL,"
    " message TEXT);"
    "CREATE INDEX fleet_commands_node ON fleet_commands(server_node_id, seq);"
    "CREATE INDEX fleet_commands_release ON fleet_commands(release_id, seq);"
    "CREATE INDEX fleet_commands_status ON fleet_commands(status);"

    "CREATE TABLE audit_entries ("
    " id " KEY " PRIMARY KEY,"
    " organization_id " KEY " NOT NULL REFERENCES organizations(id),"
    " admin_user_id " KEY " REFERENCES admin_users(id),"
    " action TEXT NOT NULL,"
    " target_type TEXT NOT NULL,"
    " target_id " KEY ","
    " details JSONB NOT NULL,"
    " created_at " TIME " NOT NULL);"
    "CREATE INDEX audit_entries_org ON audit_entries(organization_id, id);"

    "CREATE TABLE idempotency_keys ("
    " user_id " KEY " NOT NULL REFERENCES admin_users(id),"
    " key TEXT NOT NULL,"
    " route TEXT NOT NULL,"
    " request_hash TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " response JSONB NOT NULL,"
    " created_at " TIME " NOT NULL,"
    " PRIMARY KEY (user_id, key));";

/* Several mcd may share one database: which instance holds a node's
 * stream, and which instances are alive. */
static const char m2_instances[] =
    "CREATE TABLE instances ("
    " id " KEY " PRIMARY KEY,"
    " started_at " TIME " NOT NULL,"
    " heartbeat_at " TIME " NOT NULL);"
    "ALTER TABLE server_nodes ADD COLUMN online_instance " KEY ";";

/* Large deploys: only open commands are indexed by node and status, and
 * each release's deploy count per organization is kept, not counted. */
static const char m3_deploy_scale[] =
    "DROP INDEX fleet_commands_status;"
    "CREATE INDEX fleet_commands_open ON fleet_commands(server_node_id, seq)"
    " WHERE status IN ('PENDING', 'DELIVERED');"
    "CREATE INDEX fleet_commands_running ON fleet_commands(acknowledged_at)"
    " WHERE status IN ('ACKNOWLEDGED', 'IN_PROGRESS');"
    "CREATE TABLE release_deploy_counts ("
    " release_id " KEY " NOT NULL REFERENCES releases(id),"
    " organization_id " KEY " NOT NULL REFERENCES organizations(id),"
    " n BIGINT NOT NULL,"
    " PRIMARY KEY (release_id, organization_id));"
    "INSERT INTO release_deploy_counts (release_id, organization_id, n)"
    " SELECT c.release_id, l.organization_id, COUNT(*)"
    " FROM fleet_commands c JOIN server_nodes n ON n.id = c.server_node_id"
    " JOIN locations l ON l.id = n.location_id"
    " WHERE c.type = 'FORCE_UPDATE' AND c.release_id IS NOT NULL"
    " GROUP BY c.release_id, l.organization_id;";

/* When the stream that last marked the node online opened: a late online
 * mark from an older stream, on another instance, must not win. */
static const char m4_presence_order[] =
    "ALTER TABLE server_nodes ADD COLUMN online_since " TIME ";";

const char *const migrations_postgres[] = {
    m1_base, m2_instances, m3_deploy_scale, m4_presence_order, NULL,
};
