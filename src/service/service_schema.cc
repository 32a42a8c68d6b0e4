// The image-search service's tables as its migrations leave them at head (013_add_discovering_session_status), for
// --standalone, and the checks that tell its database from an empty one.
#include "service_schema.h"

namespace facefill::service {
namespace {

// image_assets, face_instances and persons (face_instances.person_id refers to it) as the service's Alembic head
// creates them; a pg_dump of these tables matches the service's own.
constexpr const char* kServiceTables = R"sql(
CREATE TYPE public.person_status AS ENUM ('active', 'merged', 'hidden');
CREATE TABLE public.persons (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name character varying(255) NOT NULL,
    status public.person_status DEFAULT 'active'::public.person_status NOT NULL,
    merged_into_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    birth_date date
);
ALTER TABLE ONLY public.persons ADD CONSTRAINT persons_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX ix_persons_name_lower ON public.persons USING btree (lower((name)::text));
CREATE INDEX ix_persons_status ON public.persons USING btree (status);
ALTER TABLE ONLY public.persons
    ADD CONSTRAINT persons_merged_into_id_fkey FOREIGN KEY (merged_into_id) REFERENCES public.persons(id);

CREATE TABLE public.image_assets (
    id integer NOT NULL,
    path character varying(500) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    indexed_at timestamp with time zone,
    thumbnail_path character varying(500),
    width integer,
    height integer,
    file_size bigint,
    mime_type character varying(50),
    file_modified_at timestamp with time zone,
    training_status character varying(20) DEFAULT 'pending'::character varying NOT NULL,
    taken_at timestamp with time zone,
    camera_make character varying(100),
    camera_model character varying(100),
    gps_latitude double precision,
    gps_longitude double precision,
    exif_metadata jsonb,
    perceptual_hash character varying(64)
);
CREATE SEQUENCE public.image_assets_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
ALTER SEQUENCE public.image_assets_id_seq OWNED BY public.image_assets.id;
ALTER TABLE ONLY public.image_assets ALTER COLUMN id SET DEFAULT nextval('public.image_assets_id_seq'::regclass);
ALTER TABLE ONLY public.image_assets ADD CONSTRAINT image_assets_path_key UNIQUE (path);
ALTER TABLE ONLY public.image_assets ADD CONSTRAINT image_assets_pkey PRIMARY KEY (id);
CREATE INDEX idx_image_assets_file_modified_at ON public.image_assets USING btree (file_modified_at);
CREATE INDEX idx_image_assets_perceptual_hash ON public.image_assets USING btree (perceptual_hash);
CREATE INDEX idx_image_assets_taken_at ON public.image_assets USING btree (taken_at);
CREATE INDEX idx_image_assets_training_status ON public.image_assets USING btree (training_status);

CREATE TABLE public.face_instances (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    asset_id integer NOT NULL,
    bbox_x integer NOT NULL,
    bbox_y integer NOT NULL,
    bbox_w integer NOT NULL,
    bbox_h integer NOT NULL,
    landmarks jsonb,
    detection_confidence double precision NOT NULL,
    quality_score double precision,
    qdrant_point_id uuid NOT NULL,
    cluster_id character varying(100),
    person_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.face_instances ADD CONSTRAINT face_instances_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.face_instances ADD CONSTRAINT face_instances_qdrant_point_id_key UNIQUE (qdrant_point_id);
ALTER TABLE ONLY public.face_instances
    ADD CONSTRAINT uq_face_instance_location UNIQUE (asset_id, bbox_x, bbox_y, bbox_w, bbox_h);
CREATE INDEX ix_face_instances_asset_id ON public.face_instances USING btree (asset_id);
CREATE INDEX ix_face_instances_cluster_id ON public.face_instances USING btree (cluster_id);
CREATE INDEX ix_face_instances_person_id ON public.face_instances USING btree (person_id);
CREATE INDEX ix_face_instances_quality ON public.face_instances USING btree (quality_score);
ALTER TABLE ONLY public.face_instances ADD CONSTRAINT face_instances_asset_id_fkey
    FOREIGN KEY (asset_id) REFERENCES public.image_assets(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.face_instances ADD CONSTRAINT face_instances_person_id_fkey
    FOREIGN KEY (person_id) REFERENCES public.persons(id) ON DELETE SET NULL;
)sql";

bool Exists(pqxx::work& txn, const char* relation) {
  return txn.exec_params1("SELECT to_regclass($1) IS NOT NULL", relation)[0].as<bool>();
}

}  // namespace

Result<DatabaseKind> RecogniseOrCreate(pqxx::work& txn, bool standalone) {
  const bool alembic = Exists(txn, "public.alembic_version");
  const bool assets = Exists(txn, "public.image_assets");
  const bool faces = Exists(txn, "public.face_instances");
  if (assets && faces) return alembic ? DatabaseKind::kService : DatabaseKind::kStandalone;
  if (alembic || assets || faces) {
    return Status(StatusCode::kInvalidArgument,
                  "the database has part of the image-search service's schema (image_assets and face_instances are "
                  "not both there): run the service's migrations to head first (alembic upgrade head)");
  }
  if (!standalone) {
    return Status(StatusCode::kInvalidArgument,
                  "the database has no image-search service schema: run the service's migrations first (alembic "
                  "upgrade head), or pass --standalone to let facefill create the service's tables itself");
  }
  txn.exec(kServiceTables);
  return DatabaseKind::kStandalone;
}

int PathLimit(pqxx::work& txn) {
  auto row = txn.exec1(
      "SELECT COALESCE(MAX(character_maximum_length), 0) FROM information_schema.columns WHERE table_schema = "
      "'public' AND table_name = 'image_assets' AND column_name = 'path'");
  return row[0].as<int>();
}

}  // namespace facefill::service
