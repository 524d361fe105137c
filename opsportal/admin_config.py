from django.contrib.admin.apps import AdminConfig


class OpsAdminConfig(AdminConfig):
    default_site = "opsportal.admin_site.OpsAdminSite"
