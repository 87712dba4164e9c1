{#
  The free-text addresses int_addresses__matched places: every distinct one any department sends (person records'
  current addresses, the household register's registered addresses, event locations). One list for the model and
  for its post-hook drop_vanished_addresses, so the two can never disagree about which texts exist.
#}
{% macro address_texts() -%}
    select address from {{ ref('int_person_records__unioned') }} where address is not null
    union
    -- the household register's registered address (HJDZ): a resident's grid when no current address places one
    select registered_address from {{ ref('stg_police__residents') }} where registered_address is not null
    union
    select location_text from {{ ref('stg_police__incidents') }} where location_text is not null
    union
    select location_text from {{ ref('stg_justice__mediations') }} where location_text is not null
    union
    select petitioner_address from {{ ref('stg_petition__petitions') }} where petitioner_address is not null
{%- endmacro %}

{#
  Post-hook of the incremental int_addresses__matched: delete the stored addresses no department sends any more
  (a record updated to another address, a record gone, a batch held after it was built). A full refresh would
  not have them; without this delete the two paths would differ.
#}
{% macro drop_vanished_addresses() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as m
    where not exists (select from ({{ address_texts() }}) as t (address) where t.address = m.address)
    {%- endif -%}
{%- endmacro %}
