{# Unique combination of columns (what dbt_utils offers, without a package download at build time). #}
{% test dbt_utils_free_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# Values within [min_value, max_value] (either bound optional); nulls pass. #}
{% test dbt_utils_free_range(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (false
       {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
       {% if max_value is not none %} or {{ column_name }} > {{ max_value }} {% endif %})
{% endtest %}
