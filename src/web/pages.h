// The HTML of each page (People, a person, a photo, Search, Status) from what the server read; every value from
// the catalog or the request is escaped here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog_view.h"
#include "facefill/catalog.h"
#include "facefill/people.h"
#include "facefill/search.h"

namespace facefill::web {

std::string PeoplePage(const std::vector<PeopleCluster>& clusters, const std::vector<FaceView>& unclustered,
                       int64_t unclustered_total);

// `writable`: the naming, merging and moving forms are shown (with the token); `notice` is shown above them.
std::string PersonPage(const PeopleCluster& cluster, const std::vector<FaceView>& faces,
                       const std::vector<PeopleCluster>& others, const std::string& token, bool writable,
                       const std::string& notice);

std::string PhotoPage(const AssetView& asset, const std::vector<FaceView>& faces);

// One query face's results, as the Search page shows them.
struct SearchResultView {
  std::string title;                   // "Face 1 of the photo (score 0.98)" or "Faces like this one"
  std::optional<std::string> face_id;  // the stored query face, shown as a crop
  std::vector<SearchHit> hits;
};
// `results` null: the form alone. `same_person` the calibrated threshold, when there is one.
std::string SearchPage(const std::string& token, bool can_upload, const std::vector<SearchResultView>* results,
                       std::optional<float> same_person, const std::string& note);

// The counts, errors and failing files as read now; the live part (#live: pace, leases and their holders; #jobs:
// the queue's jobs when `has_queue`) is filled by the page's script from /api/status.
std::string StatusPage(const CatalogStats& stats, int64_t vectors, const std::vector<FailedAsset>& failed,
                       bool has_queue);

}  // namespace facefill::web
