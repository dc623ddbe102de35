"""heatseeker's openstackclient plugin (``plugin.py``) and its ``openstack stack …`` commands."""
