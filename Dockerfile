# Astro Runtime 3.3 ships Airflow 3.3; requirements.txt and packages.txt are installed on build.
FROM astrocrpublic.azurecr.io/runtime:3.3-1
