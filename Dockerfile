FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# With DEBUG off, as the container serves: only that storage writes the manifest the
# pages' {% static %} links are looked up in. collectstatic uses no secret.
RUN DEBUG=0 SECRET_KEY=collectstatic-uses-no-secret python manage.py collectstatic --noinput
RUN useradd --system --home /app countersign && mkdir -p /app/var && chown countersign /app/var
USER countersign
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application"]
