// Command-line flags that choose the catalog and vector store, shared by the subcommands that use them.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "facefill/stores.h"

namespace facefill::cli {

struct StoreFlags {
  std::string db;           // --db, default $FACEFILL_DB or ./facefill.db
  std::string vectors;      // --vectors, default: the catalog database itself (SQLite table or pgvector)
  std::string service_env;  // --service-env: the image-search service's .env file ("-": its environment alone)
  bool standalone = false;  // --standalone: create the service's tables on a PostgreSQL database without them
  const CLI::Option* db_option = nullptr;
  const CLI::Option* vectors_option = nullptr;
  // Only `scan` creates a missing SQLite catalog; other commands say "no catalog at PATH".
  bool create_if_missing = false;
};

void AddStoreFlags(CLI::App* app, StoreFlags* flags);

// The catalog and vector store URLs the flags name (with --service-env, its settings where --db / --vectors are not
// given); on failure prints why and returns kExitUsage.
int ResolveStoreUrls(const StoreFlags& flags, std::string* db, std::string* vectors);

// Opens both; on failure prints one line saying what and where (URL redacted) with a hint, and returns the exit
// code: kExitUsage for a wrong or missing catalog, kExitFailure for a service that cannot be reached or fails.
int OpenStoresOrExit(const StoreFlags& flags, Stores* stores);

// As OpenStoresOrExit; false on failure.
bool OpenStores(const StoreFlags& flags, Stores* stores);

}  // namespace facefill::cli
