"""What each role may do with the catalog (merged into the role groups by accounts.roles)."""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

ROLE_GRANTS = {
    MANAGERS: crud("catalog", "team", "service", "servicelink", "servicedependency")
    | view("catalog", "historicalteam", "historicalservice", "historicalservicedependency"),
    RESPONDERS: view("catalog", "team", "service", "servicelink", "servicedependency"),
    RELEASE_LEADS: view("catalog", "team", "service", "servicelink", "servicedependency"),
}
