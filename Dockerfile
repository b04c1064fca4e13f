FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=1 python manage.py collectstatic --noinput
RUN useradd --system --home /app countersign && mkdir -p /app/var && chown countersign /app/var
USER countersign
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application"]
