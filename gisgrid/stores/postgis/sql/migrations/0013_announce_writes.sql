-- gisgrid schema version 13: every write is announced (NOTIFY), so that every server process
-- sees it at once instead of at its next look at the data version.
--
-- The trigger function of migration 0005, which bumps the data version on every statement
-- that writes a layer, its grid codes or the metadata, now also sends
-- `NOTIFY gisgrid_data`. PostgreSQL delivers a notification when the writing transaction
-- commits (never for one rolled back), to every connection that has run
-- `LISTEN gisgrid_data`: each running gisgrid server process keeps one
-- (`PostGISStore.wait_for_change`), and reloads when told. The payload is empty on purpose:
-- PostgreSQL folds equal notifications of one transaction into one, so a write of 150,000
-- households (a statement each) announces itself once; the listener asks
-- `gisgrid.data_version()` for the version itself. The servers still compare the version
-- every GISGRID_WEB_FRESH_SECONDS: a notification sent while a listener was reconnecting
-- is lost, the version is not.
--
-- CREATE OR REPLACE keeps the function's owner, its grants and the triggers that call it.

CREATE OR REPLACE FUNCTION gisgrid.bump_data_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE gisgrid.data_version SET version = version + 1;
    PERFORM pg_notify('gisgrid_data', '');
    RETURN NULL;
END;
$$;
